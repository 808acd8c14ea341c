import { describe, expect, it } from 'vitest';
import { chainId, chainIds, isOciImageError } from '../../src/index.js';

// diff IDs are sha256 of "a", "b", "c"; expected values computed with `printf "%s %s" ... | sha256sum`
const a = 'sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb';
const b = 'sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d';
const c = 'sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6';
const ab = 'sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676';
const abc = 'sha256:2fce7f8ce91bcf0a1428b36e1024639fdbd9469eea762dba98aa749631885106';

describe('chain ids', () => {
  it('is the diff id for a single layer', () => {
    expect(chainId([a])).toBe(a);
  });

  it('matches hand-computed values for a stack', () => {
    expect(chainIds([a, b, c])).toEqual([a, ab, abc]);
    expect(chainId([a, b, c])).toBe(abc);
  });

  it('rejects an empty stack with INVALID_CONFIG', () => {
    expect(() => chainId([])).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', path: 'rootfs.diff_ids' }),
    );
  });

  it('names the bad diff id', () => {
    try {
      chainIds([a, 'sha256:nope']);
      expect.unreachable();
    } catch (error) {
      expect(isOciImageError(error, 'INVALID_DIGEST')).toBe(true);
      expect((error as { path: string }).path).toBe('rootfs.diff_ids[1]');
    }
  });
});
