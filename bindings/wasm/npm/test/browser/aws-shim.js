// Stand-ins for the @aws-sdk command classes, mapped in by the test page's import map: a browser
// page without a bundler cannot load the SDK itself. They only carry `input`, which the fake S3
// and KMS clients of the page answer.
class Command {
  constructor(input) {
    this.input = input;
  }
}
export class HeadObjectCommand extends Command {}
export class GetObjectCommand extends Command {}
export class PutObjectCommand extends Command {}
export class CreateMultipartUploadCommand extends Command {}
export class UploadPartCommand extends Command {}
export class CompleteMultipartUploadCommand extends Command {}
export class AbortMultipartUploadCommand extends Command {}
export class DeleteObjectCommand extends Command {}
export class DecryptCommand extends Command {}
export class GenerateDataKeyCommand extends Command {}
export class EncryptCommand extends Command {}
