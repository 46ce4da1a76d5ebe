// The Confluent wire format: magic byte 0, the schema id as a 4-byte big-endian integer, then the
// Avro binary body. Framed here rather than through the registry client's `encode`, which awaits
// per record; the schema id is looked up once at start.
import type avro from 'avsc';
import { CdrError, ErrorCodes } from '../errors.ts';

export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;

export function frame(schemaId: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  writeHeader(out, 0, schemaId);
  body.copy(out, HEADER_BYTES);
  return out;
}

export function unframe(payload: Buffer): { schemaId: number; body: Buffer } {
  if (payload.length < HEADER_BYTES || payload[0] !== MAGIC_BYTE) {
    throw new CdrError(
      ErrorCodes.ENCODE_FAILED,
      'not a Confluent wire-format payload (magic byte 0 and a 4-byte id)',
    );
  }
  return { schemaId: payload.readInt32BE(1), body: payload.subarray(HEADER_BYTES) };
}

let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * Writes the framed record (header and Avro body) into `buf` at `pos`: returns where it ends, or
 * minus the number of bytes missing when `buf` is too small. Throws as `encodeValue` does.
 */
export function encodeInto(
  type: avro.Type,
  schemaId: number,
  value: unknown,
  buf: Buffer,
  pos: number,
): number {
  if (buf.length < pos + HEADER_BYTES) return buf.length - (pos + HEADER_BYTES) - 64;
  let end: number;
  try {
    end = type.encode(value, buf, pos + HEADER_BYTES);
  } catch (cause) {
    throw encodeFailure(type, value, cause);
  }
  if (end < 0) return end;
  writeHeader(buf, pos, schemaId);
  return end;
}

/** The 5-byte header of a framed record at `pos`. */
export function writeHeader(buf: Buffer, pos: number, schemaId: number): void {
  buf[pos] = MAGIC_BYTE;
  buf.writeInt32BE(schemaId, pos + 1);
}

/**
 * Encodes with `type` straight after a 5-byte header in a scratch buffer, then copies out the
 * framed record: one allocation per record. Names every failing field path when the value does
 * not fit the schema.
 */
export function encodeValue(type: avro.Type, schemaId: number, value: unknown): Buffer {
  let end = encodeInto(type, schemaId, value, scratch, 0);
  if (end < 0) {
    scratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, scratch.length - end));
    end = encodeInto(type, schemaId, value, scratch, 0);
  }
  return Buffer.from(scratch.subarray(0, end));
}

/** The error of a value that does not fit the schema: it names every failing field path. */
function encodeFailure(type: avro.Type, value: unknown, cause: unknown): CdrError {
  const paths: string[] = [];
  type.isValid(value, { errorHook: (path) => paths.push(path.join('.')) });
  return new CdrError(
    ErrorCodes.ENCODE_FAILED,
    `value does not fit schema at: ${paths.join(', ') || '(unknown)'}`,
    {
      cause,
      details: { paths },
    },
  );
}
