// iop-xdpctl: the few bpf(2) operations bpftool 7.1 cannot do, for the ioplane kernel-xdp driver.
//   load-chain <outdir> <dispatcher.o|-> (<obj> <prog> <reuse>)...  load a dispatcher and freplace every slot;
//                                                                  with "-" one module is the root itself
//   load-tailchain <outdir> <root.o> <stats_pin> (<obj> <prog> <reuse>)...
//                                                                  load a root and a new PROG_ARRAY, each module's
//                                                                  iop_chain_entry in its slot (modules/include/iop_chain.h)
//   attach <netns> <ifname> <drv|skb> <prog_pin> <link_pin>       create and pin an XDP bpf_link
//   replace <link_pin> <new_prog_pin> <old_prog_pin>               atomic link update (BPF_F_REPLACE)
//   detach <link_pin>                                              BPF_LINK_DETACH, then unpin
// <reuse> is "-" or "map=/pin/path,map=/pin/path": maps that survive a module upgrade.
// Output: one JSON line on stdout; errors as {"error":...} with exit 2, libbpf's log on stderr.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

static int fail(const char *what, const char *detail, int err) {
  printf("{\"error\":\"%s\",\"detail\":\"%s\",\"errno\":%d}\n", what, detail ? detail : "", err < 0 ? -err : err);
  return 2;
}

static int prog_info(int fd, struct bpf_prog_info *info) {
  __u32 len = sizeof(*info);
  memset(info, 0, sizeof(*info));
  return bpf_obj_get_info_by_fd(fd, info, &len);
}

static void print_tag(const struct bpf_prog_info *info) {
  printf("\"tag\":\"");
  for (int i = 0; i < BPF_TAG_SIZE; i++) printf("%02x", info->tag[i]);
  printf("\"");
}

static struct bpf_program *select_prog(struct bpf_object *obj, const char *want) {
  struct bpf_program *p, *hit = NULL;
  int by_section = 0;
  bpf_object__for_each_program(p, obj) {
    if (strcmp(bpf_program__name(p), want) == 0) return p;
  }
  bpf_object__for_each_program(p, obj) {
    if (strcmp(bpf_program__section_name(p), want) == 0) { hit = p; by_section++; }
  }
  return by_section == 1 ? hit : NULL;
}

static int reuse_maps(struct bpf_object *obj, const char *spec, char *bad, size_t badlen) {
  if (strcmp(spec, "-") == 0) return 0;
  char *copy = strdup(spec), *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(tok, '=');
    if (!eq) continue;
    *eq = 0;
    struct bpf_map *m = bpf_object__find_map_by_name(obj, tok);
    if (!m) { snprintf(bad, badlen, "no map %s", tok); free(copy); return -ENOENT; }
    int fd = bpf_obj_get(eq + 1);
    if (fd < 0) continue; // first version: created now, pinned after load
    int err = bpf_map__reuse_fd(m, fd);
    close(fd);
    if (err) { snprintf(bad, badlen, "map %s cannot reuse %s", tok, eq + 1); free(copy); return err; }
  }
  free(copy);
  return 0;
}

static int pin_new_persistent(struct bpf_object *obj, const char *spec) {
  if (strcmp(spec, "-") == 0) return 0;
  char *copy = strdup(spec), *save = NULL;
  int err = 0;
  for (char *tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(tok, '=');
    if (!eq) continue;
    *eq = 0;
    struct stat st;
    if (stat(eq + 1, &st) == 0) continue;
    struct bpf_map *m = bpf_object__find_map_by_name(obj, tok);
    if (m) err = bpf_obj_pin(bpf_map__fd(m), eq + 1);
  }
  free(copy);
  return err;
}

static int pin_maps(struct bpf_object *obj, const char *outdir, int i) {
  char path[4096];
  struct bpf_map *m;
  bpf_object__for_each_map(m, obj) {
    char name[256];
    // The chain's own maps are pinned once, by the chain and the hook; they are not the module's counters.
    if (strncmp(bpf_map__name(m), "iop_chain_", 10) == 0) continue;
    // bpffs refuses names with a dot, and internal maps are called "<obj>.rodata".
    snprintf(name, sizeof(name), "%s", bpf_map__name(m));
    for (char *c = name; *c; c++) if (*c == '.' || *c == '/') *c = '_';
    snprintf(path, sizeof(path), "%s/m%d_map_%s", outdir, i, name);
    int err = bpf_obj_pin(bpf_map__fd(m), path);
    if (err) return fail("pin", path, err);
  }
  return 0;
}

/* Opens one module, selects its program, reuses persistent maps, and loads it: as the dispatcher's
 * slot i (freplace) when root_fd >= 0, else as a plain XDP program that is the root itself. */
static int load_module(const char *outdir, int i, const char *file, const char *want, const char *reuse, int root_fd,
                       struct bpf_prog_info *info) {
  char path[4096], bad[512] = "", slot[32];
  int err;
  snprintf(slot, sizeof(slot), "slot_%d", i);
  struct bpf_object *obj = bpf_object__open_file(file, NULL);
  if (!obj) return fail("open_module", file, errno);
  struct bpf_program *p = select_prog(obj, want), *q;
  if (!p) return fail("program_not_found", want, ENOENT);
  bpf_object__for_each_program(q, obj) bpf_program__set_autoload(q, q == p);
  if (root_fd >= 0) {
    bpf_program__set_type(p, BPF_PROG_TYPE_EXT);
    bpf_program__set_expected_attach_type(p, 0);
    if ((err = bpf_program__set_attach_target(p, root_fd, slot))) return fail("attach_target", slot, err);
  } else {
    bpf_program__set_type(p, BPF_PROG_TYPE_XDP);
  }
  if ((err = reuse_maps(obj, reuse, bad, sizeof(bad)))) return fail("map_reuse", bad, err);
  if ((err = bpf_object__load(obj))) {
    fprintf(stderr, "module %d (%s) refused\n", i, want);
    return fail(err == -EINVAL || err == -EACCES || err == -E2BIG ? "verifier" : "load_module", want, err);
  }
  if (root_fd >= 0) {
    struct bpf_link *link = bpf_program__attach_freplace(p, root_fd, slot);
    if (!link) return fail("freplace", slot, errno);
    snprintf(path, sizeof(path), "%s/m%d_link", outdir, i);
    if ((err = bpf_link__pin(link, path))) return fail("pin", path, err);
  } else {
    snprintf(path, sizeof(path), "%s/root", outdir);
    if ((err = bpf_obj_pin(bpf_program__fd(p), path))) return fail("pin", path, errno);
  }
  snprintf(path, sizeof(path), "%s/m%d_prog", outdir, i);
  if ((err = bpf_obj_pin(bpf_program__fd(p), path))) return fail("pin", path, errno);
  if ((err = pin_new_persistent(obj, reuse))) return fail("pin_persistent", reuse, err);
  if ((err = pin_maps(obj, outdir, i))) return err;
  if (prog_info(bpf_program__fd(p), info)) return fail("info", want, errno);
  return 0;
}

static int load_chain(int argc, char **argv) {
  if (argc < 6 || (argc - 3) % 3 != 0) return fail("usage", "load-chain <outdir> <dispatcher.o|-> (<obj> <prog> <reuse>)...", EINVAL);
  const char *outdir = argv[1];
  char path[4096];
  int err, root_fd = -1, n = (argc - 3) / 3;
  if (strcmp(argv[2], "-") != 0) {
    struct bpf_object *d = bpf_object__open_file(argv[2], NULL);
    if (!d) return fail("open_dispatcher", argv[2], errno);
    if ((err = bpf_object__load(d))) return fail("load_dispatcher", argv[2], err);
    struct bpf_program *root = bpf_object__find_program_by_name(d, "iop_dispatch");
    if (!root) return fail("load_dispatcher", "no iop_dispatch", ENOENT);
    root_fd = bpf_program__fd(root);
    snprintf(path, sizeof(path), "%s/root", outdir);
    if ((err = bpf_program__pin(root, path))) return fail("pin", path, err);
    struct bpf_map *stats = bpf_object__find_map_by_name(d, "iop_stats");
    snprintf(path, sizeof(path), "%s/stats", outdir);
    if (!stats || (err = bpf_map__pin(stats, path))) return fail("pin", path, err);
  } else if (n != 1) {
    return fail("usage", "without a dispatcher the chain holds exactly one module", EINVAL);
  }
  struct bpf_prog_info info;
  char out[65536];
  size_t used = 0;
  for (int i = 0; i < n; i++) {
    if ((err = load_module(outdir, i, argv[3 + i * 3], argv[4 + i * 3], argv[5 + i * 3], root_fd, &info))) return err;
    if (root_fd < 0) root_fd = -2;
    used += snprintf(out + used, sizeof(out) - used, "%s{\"id\":%u,\"tag\":\"", i ? "," : "", info.id);
    for (int k = 0; k < BPF_TAG_SIZE; k++) used += snprintf(out + used, sizeof(out) - used, "%02x", info.tag[k]);
    used += snprintf(out + used, sizeof(out) - used, "\"}");
  }
  if (root_fd >= 0 && prog_info(root_fd, &info)) return fail("info", "root", errno);
  printf("{\"root\":{\"id\":%u,", info.id);
  print_tag(&info);
  printf("},\"modules\":[%s]}\n", out);
  return 0;
}

/* Sets a `const volatile` global of the object's .rodata before load (what a skeleton does). */
static int set_rodata_u32(struct bpf_object *obj, const char *var, __u32 value) {
  struct btf *btf = bpf_object__btf(obj);
  struct bpf_map *m, *rodata = NULL;
  if (!btf) return -ENOENT;
  bpf_object__for_each_map(m, obj) {
    const char *n = bpf_map__name(m);
    size_t l = strlen(n);
    if (l >= 7 && strcmp(n + l - 7, ".rodata") == 0) rodata = m;
  }
  int id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
  if (!rodata || id < 0) return -ENOENT;
  const struct btf_type *sec = btf__type_by_id(btf, id);
  const struct btf_var_secinfo *v = btf_var_secinfos(sec);
  for (int k = 0; k < btf_vlen(sec); k++, v++) {
    const struct btf_type *t = btf__type_by_id(btf, v->type);
    if (strcmp(btf__name_by_offset(btf, t->name_off), var) != 0) continue;
    size_t size = 0;
    const char *now = bpf_map__initial_value(rodata, &size);
    if (!now || v->offset + sizeof(value) > size || v->size != sizeof(value)) return -EINVAL;
    char *copy = malloc(size);
    if (!copy) return -ENOMEM;
    memcpy(copy, now, size);
    memcpy(copy + v->offset, &value, sizeof(value));
    int err = bpf_map__set_initial_value(rodata, copy, size);
    free(copy);
    return err;
  }
  return -ENOENT;
}

static int reuse_fd_by_name(struct bpf_object *obj, const char *name, int fd) {
  struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
  if (!m) return -ENOENT;
  return bpf_map__reuse_fd(m, fd);
}

/* Loads module i's chain entry into slot i of the chain's PROG_ARRAY (progs_fd). */
static int load_tail_module(const char *outdir, int i, const char *file, const char *want, const char *reuse, int progs_fd, int stats_fd,
                            struct bpf_prog_info *info) {
  char path[4096], bad[512] = "";
  int err;
  struct bpf_object *obj = bpf_object__open_file(file, NULL);
  if (!obj) return fail("open_module", file, errno);
  struct bpf_program *p = bpf_object__find_program_by_name(obj, "iop_chain_entry"), *q;
  if (!p) {
    fprintf(stderr, "module %d (%s) has no iop_chain_entry\n", i, want);
    return fail("no_chain_entry", want, ENOENT);
  }
  bpf_object__for_each_program(q, obj) bpf_program__set_autoload(q, q == p);
  // Every program of one PROG_ARRAY must agree with its owner (the root) on type and xdp.frags.
  bpf_program__set_type(p, BPF_PROG_TYPE_XDP);
  bpf_program__set_expected_attach_type(p, BPF_XDP);
  bpf_program__set_flags(p, bpf_program__flags(p) & ~BPF_F_XDP_HAS_FRAGS);
  if ((err = set_rodata_u32(obj, "iop_chain_slot", (__u32)i))) return fail("chain_slot", want, err);
  if ((err = reuse_fd_by_name(obj, "iop_chain_progs", progs_fd)) || (err = reuse_fd_by_name(obj, "iop_chain_stats", stats_fd))) {
    snprintf(bad, sizeof(bad), "module %d: iop_chain maps differ from the root's (rebuild with the current iop_chain.h)", i);
    return fail("map_reuse", bad, err);
  }
  if ((err = reuse_maps(obj, reuse, bad, sizeof(bad)))) return fail("map_reuse", bad, err);
  if ((err = bpf_object__load(obj))) {
    fprintf(stderr, "module %d (%s) refused\n", i, want);
    return fail(err == -EINVAL || err == -EACCES || err == -E2BIG ? "verifier" : "load_module", want, err);
  }
  int fd = bpf_program__fd(p);
  snprintf(path, sizeof(path), "%s/m%d_prog", outdir, i);
  if ((err = bpf_obj_pin(fd, path))) return fail("pin", path, errno);
  if ((err = pin_new_persistent(obj, reuse))) return fail("pin_persistent", reuse, err);
  if ((err = pin_maps(obj, outdir, i))) return err;
  __u32 key = (__u32)i;
  if (bpf_map_update_elem(progs_fd, &key, &fd, BPF_ANY)) {
    fprintf(stderr, "module %d (%s) refused by the program array\n", i, want);
    return fail("prog_array", want, errno);
  }
  if (prog_info(fd, info)) return fail("info", want, errno);
  return 0;
}

/* A whole new chain: root + new PROG_ARRAY filled before anything attaches it. The hook's counter
 * map (stats_pin) is created by the first chain and shared by every later one. */
static int load_tailchain(int argc, char **argv) {
  if (argc < 7 || (argc - 4) % 3 != 0) return fail("usage", "load-tailchain <outdir> <root.o> <stats_pin> (<obj> <prog> <reuse>)...", EINVAL);
  const char *outdir = argv[1], *stats_pin = argv[3];
  char path[4096];
  int err, n = (argc - 4) / 3;
  struct bpf_object *r = bpf_object__open_file(argv[2], NULL);
  if (!r) return fail("open_root", argv[2], errno);
  struct bpf_map *stats = bpf_object__find_map_by_name(r, "iop_chain_stats");
  struct bpf_map *progs = bpf_object__find_map_by_name(r, "iop_chain_progs");
  struct bpf_program *root = bpf_object__find_program_by_name(r, "iop_chain_root");
  if (!stats || !progs || !root) return fail("open_root", "root object lacks iop_chain_root or its maps", ENOENT);
  int old_stats = bpf_obj_get(stats_pin);
  if (old_stats >= 0 && (err = bpf_map__reuse_fd(stats, old_stats))) return fail("map_reuse", "hook counters differ from iop_chain.h", err);
  if ((err = bpf_object__load(r))) return fail("load_root", argv[2], err);
  if (old_stats < 0 && (err = bpf_map__pin(stats, stats_pin))) return fail("pin", stats_pin, err);
  snprintf(path, sizeof(path), "%s/root", outdir);
  if ((err = bpf_program__pin(root, path))) return fail("pin", path, err);
  // The array's slots empty themselves when its last user reference goes: the pin keeps the chain whole.
  snprintf(path, sizeof(path), "%s/progs", outdir);
  if ((err = bpf_map__pin(progs, path))) return fail("pin", path, err);
  struct bpf_prog_info info;
  char out[65536];
  size_t used = 0;
  for (int i = 0; i < n; i++) {
    if ((err = load_tail_module(outdir, i, argv[4 + i * 3], argv[5 + i * 3], argv[6 + i * 3], bpf_map__fd(progs), bpf_map__fd(stats), &info))) return err;
    used += snprintf(out + used, sizeof(out) - used, "%s{\"id\":%u,\"tag\":\"", i ? "," : "", info.id);
    for (int k = 0; k < BPF_TAG_SIZE; k++) used += snprintf(out + used, sizeof(out) - used, "%02x", info.tag[k]);
    used += snprintf(out + used, sizeof(out) - used, "\"}");
  }
  if (prog_info(bpf_program__fd(root), &info)) return fail("info", "root", errno);
  printf("{\"root\":{\"id\":%u,", info.id);
  print_tag(&info);
  printf("},\"modules\":[%s]}\n", out);
  return 0;
}

static int attach(int argc, char **argv) {
  if (argc != 6) return fail("usage", "attach <netns> <ifname> <drv|skb> <prog_pin> <link_pin>", EINVAL);
  int pfd = bpf_obj_get(argv[4]);
  if (pfd < 0) return fail("prog_pin", argv[4], errno);
  int nsfd = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) return fail("netns", argv[1], errno);
  if (setns(nsfd, CLONE_NEWNET)) return fail("setns", argv[1], errno);
  unsigned ifindex = if_nametoindex(argv[2]);
  if (!ifindex) return fail("ifname", argv[2], errno);
  LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = strcmp(argv[3], "drv") == 0 ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE);
  int lfd = bpf_link_create(pfd, ifindex, BPF_XDP, &opts);
  if (lfd < 0) return fail(errno == EBUSY || errno == EEXIST ? "busy" : "link_create", argv[2], errno);
  if (bpf_obj_pin(lfd, argv[5])) { int e = errno; bpf_link_detach(lfd); return fail("pin", argv[5], e); }
  struct bpf_link_info li;
  __u32 len = sizeof(li);
  memset(&li, 0, sizeof(li));
  bpf_obj_get_info_by_fd(lfd, &li, &len);
  printf("{\"link\":%u,\"ifindex\":%u}\n", li.id, ifindex);
  return 0;
}

/* A program by pin path, or "id:N" when only its id is known (a chain pinned by an older agent). */
static int prog_fd(const char *arg) {
  if (strncmp(arg, "id:", 3) == 0) return bpf_prog_get_fd_by_id((__u32)strtoul(arg + 3, NULL, 10));
  return bpf_obj_get(arg);
}

static int replace(int argc, char **argv) {
  if (argc != 4) return fail("usage", "replace <link_pin> <new_prog_pin> <old_prog_pin>", EINVAL);
  int lfd = bpf_obj_get(argv[1]);
  if (lfd < 0) return fail("link_pin", argv[1], errno);
  int nfd = prog_fd(argv[2]);
  if (nfd < 0) return fail("prog_pin", argv[2], errno);
  int ofd = prog_fd(argv[3]);
  if (ofd < 0) return fail("prog_pin", argv[3], errno);
  LIBBPF_OPTS(bpf_link_update_opts, opts, .flags = BPF_F_REPLACE, .old_prog_fd = ofd);
  // The kernel swaps the program pointer under the link only if the old one is still attached.
  if (bpf_link_update(lfd, nfd, &opts)) return fail(errno == EPERM ? "stale" : "link_update", argv[1], errno);
  printf("{\"ok\":true}\n");
  return 0;
}

static int detach(int argc, char **argv) {
  if (argc != 2) return fail("usage", "detach <link_pin>", EINVAL);
  int lfd = bpf_obj_get(argv[1]);
  if (lfd < 0) return fail("link_pin", argv[1], errno);
  bpf_link_detach(lfd);
  unlink(argv[1]);
  printf("{\"ok\":true}\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) return fail("usage", "load-chain|load-tailchain|attach|replace|detach", EINVAL);
  if (strcmp(argv[1], "load-chain") == 0) return load_chain(argc - 1, argv + 1);
  if (strcmp(argv[1], "load-tailchain") == 0) return load_tailchain(argc - 1, argv + 1);
  if (strcmp(argv[1], "attach") == 0) return attach(argc - 1, argv + 1);
  if (strcmp(argv[1], "replace") == 0) return replace(argc - 1, argv + 1);
  if (strcmp(argv[1], "detach") == 0) return detach(argc - 1, argv + 1);
  return fail("usage", argv[1], EINVAL);
}
