import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MerkleBuilder, leafHash, lineHashes, merkleRoot, nodeHash } from '../../src/bundle/merkle.js';
import { receiptHash } from '../../src/receipts/sign.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** RFC 9162 section 2.1.1, written as the definition reads. */
function mth(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return createHash('sha256').digest();
  if (leaves.length === 1) return leaves[0] as Uint8Array;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

describe('RFC 9162 Merkle tree hash', () => {
  // The test vectors of RFC 6962/9162 implementations (certificate-transparency): inputs and roots for sizes 1..8.
  const inputs = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
  const roots = [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
    '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
    'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
    '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
  ];

  it('matches the published roots for 0..8 leaves', () => {
    expect(hex(merkleRoot([]))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    roots.forEach((root, i) => expect(hex(merkleRoot(inputs.slice(0, i + 1).map((x) => leafHash(x))))).toBe(root));
  });

  it('the streaming builder equals the recursive definition for any size', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 70 }), (data) => {
        const leaves = data.map((d) => leafHash(d));
        expect(hex(merkleRoot(leaves))).toBe(hex(mth(leaves)));
        // Packed in arbitrary runs, as segments arrive from workers.
        const builder = new MerkleBuilder();
        for (let i = 0; i < leaves.length; i += 1 + (i % 5)) {
          const run = leaves.slice(i, i + 1 + (i % 5));
          const packed = new Uint8Array(run.length * 32);
          run.forEach((leaf, j) => packed.set(leaf, j * 32));
          builder.addPacked(packed);
        }
        expect(hex(builder.root())).toBe(hex(mth(leaves)));
        expect(builder.count).toBe(leaves.length);
      }),
      { numRuns: 200 },
    );
  });

  it('the packed and one-copy paths give the same hashes', () => {
    const lines = ['{"a":1}', 'ünïcödé line', ''].map((s) => new TextEncoder().encode(s));
    const scratch = Buffer.alloc(8);
    const packed = new Uint8Array(lines.length * 32);
    lines.forEach((line, i) => {
      const { leaf, hex: lineHex } = lineHashes(line, scratch);
      expect(hex(leaf)).toBe(hex(leafHash(line)));
      expect(`sha256:${lineHex}`).toBe(receiptHash(new TextDecoder().decode(line)));
      packed.set(leaf, i * 32);
    });
    const builder = new MerkleBuilder();
    builder.addPacked(packed);
    expect(hex(builder.root())).toBe(hex(merkleRoot(lines.map((l) => leafHash(l)))));
  });
});
