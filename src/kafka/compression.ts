// Record batch compression. kafkajs 2.2.4 compresses and decompresses GZIP only; LZ4 and ZSTD get
// codecs here, registered for every client of the process, so our readers also take batches that
// other producers (a Java one, kafka-console-producer) compressed with them. LZ4 is Kafka's frame
// format (lz4-napi, prebuilt for the usual platforms), ZSTD standard frames (Node's own zlib).
import { promisify } from 'node:util';
import { zstdCompress, zstdDecompress } from 'node:zlib';
import kafkajs from 'kafkajs';
import { compressFrame, decompressFrame } from 'lz4-napi';
import type { Compression } from '../config/producer.ts';

// kafkajs is CommonJS and Node's ESM loader does not see CompressionCodecs among its named exports.
const { CompressionCodecs, CompressionTypes } = kafkajs;

const TYPES: Record<Compression, kafkajs.CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

const zstd = promisify(zstdCompress);
const unzstd = promisify(zstdDecompress);

let registered = false;

export function registerCodecs(): void {
  if (registered) return;
  registered = true;
  CompressionCodecs[CompressionTypes.LZ4] = () => ({
    compress: (encoder: { buffer: Buffer }) => compressFrame(encoder.buffer),
    decompress: (buffer: Buffer) => decompressFrame(buffer),
  });
  CompressionCodecs[CompressionTypes.ZSTD] = () => ({
    compress: (encoder: { buffer: Buffer }) => zstd(encoder.buffer),
    decompress: (buffer: Buffer) => unzstd(buffer),
  });
}

export function compressionType(name: Compression): kafkajs.CompressionTypes {
  return TYPES[name];
}
