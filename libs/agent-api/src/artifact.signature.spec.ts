import { generateSigningKeys, sha256Hex, signArtifact, verifyArtifact } from './artifact.signature';

describe('artifact signatures (ed25519 over the sha256 digest)', () => {
  const keys = generateSigningKeys();
  const bytes = Buffer.from('a BPF object, byte for byte');

  it('verifies a signature made over the bytes or over their digest alike', () => {
    const sig = signArtifact(bytes, keys.privateKeyPem);
    expect(verifyArtifact(bytes, sig, keys.publicKeyPem)).toBe(true);
    expect(verifyArtifact(sha256Hex(bytes), sig, keys.publicKeyPem)).toBe(true);
    expect(signArtifact(sha256Hex(bytes), keys.privateKeyPem)).toBe(sig);
  });

  it('refuses changed bytes, another key, and garbage signatures', () => {
    const sig = signArtifact(bytes, keys.privateKeyPem);
    expect(verifyArtifact(Buffer.concat([bytes, Buffer.from([0])]), sig, keys.publicKeyPem)).toBe(false);
    expect(verifyArtifact(bytes, sig, generateSigningKeys().publicKeyPem)).toBe(false);
    expect(verifyArtifact(bytes, 'bm90IGEgc2lnbmF0dXJl', keys.publicKeyPem)).toBe(false);
    expect(verifyArtifact(bytes, '', keys.publicKeyPem)).toBe(false);
  });

  it('rejects a digest that is not sha256 hex when signing', () => {
    expect(() => signArtifact('abc', keys.privateKeyPem)).toThrow(/64 hex/);
  });
});
