import { OciImageError } from '../errors.js';

// image-spec annotations: ref ::= component ("/" component)*, component ::= alphanum (separator alphanum)*,
// alphanum ::= [A-Za-z0-9]+, separator ::= [-._:@+] | "--"
const refNameGrammar =
  /^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:\/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$/;

/** Validates a ref name for `org.opencontainers.image.ref.name`; throws `INVALID_REFERENCE`. */
export function checkRefName(ref: string): string {
  if (typeof ref !== 'string' || !refNameGrammar.test(ref)) {
    throw new OciImageError(
      'INVALID_REFERENCE',
      `ref name ${JSON.stringify(ref)} does not follow the image-spec grammar`,
      {
        path: String(ref),
      },
    );
  }
  return ref;
}
