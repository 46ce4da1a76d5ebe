// The recordings' object storage, through the S3 API (@aws-sdk/client-s3; @aws-sdk/lib-storage for
// multipart uploads of large files). An object is written once, under a key that is a function of
// the CDR alone, with its SHA-256 in its metadata: an object found there with a SHA-256 is
// complete (S3 makes an object visible only once its upload is whole), so a recording stored
// before a crash is never fetched or written again.
import { createReadStream } from 'node:fs';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ObjectStoreOptions } from '../config/recordings.ts';
import { CdrError, ErrorCodes } from '../errors.ts';

export interface StoredObject {
  key: string;
  size: number;
  sha256: string;
  contentType: string;
  fetchedAt: number;
}

/** Metadata keys written with each object (x-amz-meta-*). */
const META = { sha256: 'sha256', fetchedAt: 'fetched-at', cdrId: 'cdr-id' } as const;

/** The object key of a CDR's recording: `<prefix><account>/<billing period>/<id>.mp3`, each part percent-encoded. */
export function objectKey(prefix: string, account: string, billingPeriod: string, id: string): string {
  const part = (s: string) => encodeURIComponent(s).replaceAll('.', '%2E');
  return `${prefix}${part(account)}/${part(billingPeriod)}/${part(id)}.mp3`;
}

/** The account, billing period and id an object key names, or undefined when it is not one of ours. */
export function parseObjectKey(
  prefix: string,
  key: string,
): { account: string; billingPeriod: string; id: string } | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const parts = key.slice(prefix.length).split('/');
  const [account, billingPeriod, file] = parts;
  if (parts.length !== 3 || account === undefined || billingPeriod === undefined || !file?.endsWith('.mp3'))
    return undefined;
  try {
    return {
      account: decodeURIComponent(account),
      billingPeriod: decodeURIComponent(billingPeriod),
      id: decodeURIComponent(file.slice(0, -'.mp3'.length)),
    };
  } catch {
    return undefined;
  }
}

export class ObjectStore {
  readonly bucket: string;
  private readonly client: S3Client;
  private readonly options: ObjectStoreOptions;

  constructor(options: ObjectStoreOptions) {
    this.options = options;
    this.bucket = options.bucket;
    this.client = new S3Client({
      region: options.region,
      forcePathStyle: options.pathStyle,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      // A copy: the SDK marks the object it is given (\$source), and the options are frozen.
      ...(options.credentials ? { credentials: { ...options.credentials } } : {}),
      // Checksums only where S3 requires them: S3-compatible servers (s3proxy, older MinIO and
      // Ceph) refuse the SDK's default streaming checksum trailers. The SHA-256 of each object is
      // ours, in its metadata.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** The bucket is there (created first when the options allow: the local stack). */
  async ready(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (cause) {
      if (!this.options.createBucket) throw storeError(`the bucket ${this.bucket} cannot be reached`, cause);
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket })).catch((err: unknown) => {
        if ((err as { name?: string }).name !== 'BucketAlreadyOwnedByYou')
          throw storeError(`the bucket ${this.bucket} cannot be created`, err);
      });
    }
  }

  /** The object under `key` when it is complete (has our SHA-256), else undefined. */
  async head(key: string): Promise<StoredObject | undefined> {
    const found = await this.stat(key);
    return found?.sha256 === undefined ? undefined : { ...found, sha256: found.sha256 };
  }

  /** What the storage says of `key`: undefined when there is no object; sha256 undefined when it has none of ours. */
  async stat(
    key: string,
  ): Promise<(Omit<StoredObject, 'sha256'> & { sha256: string | undefined }) | undefined> {
    try {
      const h = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        key,
        size: h.ContentLength ?? 0,
        sha256: h.Metadata?.[META.sha256] || undefined,
        contentType: h.ContentType ?? 'application/octet-stream',
        fetchedAt: Number(h.Metadata?.[META.fetchedAt] ?? h.LastModified?.getTime() ?? 0),
      };
    } catch (cause) {
      const status = (cause as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) return undefined;
      throw storeError(`reading the object ${key} failed`, cause);
    }
  }

  /** Every object key under `prefix`, a page at a time. */
  async *list(prefix: string): AsyncGenerator<{ key: string; size: number }> {
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
        );
      } catch (cause) {
        throw storeError(`listing the objects under ${prefix || '(the bucket)'} failed`, cause);
      }
      for (const o of page.Contents ?? []) if (o.Key) yield { key: o.Key, size: o.Size ?? 0 };
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** Uploads the spooled file under `key`, with its SHA-256 and the time it was fetched. */
  async put(key: string, file: string, object: Omit<StoredObject, 'key'>, cdrId: string): Promise<void> {
    const params: PutObjectCommandInput = {
      Bucket: this.bucket,
      Key: key,
      Body: createReadStream(file),
      ContentType: object.contentType,
      Metadata: {
        [META.sha256]: object.sha256,
        [META.fetchedAt]: String(object.fetchedAt),
        [META.cdrId]: cdrId,
      },
      ...(this.options.sse !== 'none' ? { ServerSideEncryption: this.options.sse } : {}),
      ...(this.options.sseKmsKeyId ? { SSEKMSKeyId: this.options.sseKmsKeyId } : {}),
      ...(this.options.storageClass ? { StorageClass: this.options.storageClass as StorageClass } : {}),
    };
    try {
      if (object.size < this.options.multipartBytes) {
        await this.client.send(new PutObjectCommand({ ...params, ContentLength: object.size }));
        return;
      }
      // One part in memory at a time per upload: large recordings stay within a bounded footprint.
      await new Upload({ client: this.client, params, queueSize: 1, partSize: 8 * 1024 * 1024 }).done();
    } catch (cause) {
      throw storeError(`storing the object ${key} failed`, cause);
    }
  }

  /** A URL that reads the object until `expiresInSeconds` from now, without other credentials. */
  presign(key: string, expiresInSeconds: number): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
      expiresIn: expiresInSeconds,
    });
  }

  /** The object's bytes as a stream. */
  async read(key: string): Promise<NodeJS.ReadableStream> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return r.Body as NodeJS.ReadableStream;
    } catch (cause) {
      throw storeError(`reading the object ${key} failed`, cause);
    }
  }

  close(): void {
    this.client.destroy();
  }
}

/** The S3 error's name and status only: its message can carry request details. */
function storeError(message: string, cause: unknown): CdrError {
  const err = cause as { name?: string; $metadata?: { httpStatusCode?: number } };
  return new CdrError(ErrorCodes.OBJECT_STORE, `${message} (${err.name ?? 'error'})`, {
    retriable: true,
    details: { s3Error: err.name, status: err.$metadata?.httpStatusCode },
  });
}
