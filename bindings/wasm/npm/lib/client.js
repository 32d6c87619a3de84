export class S3EncryptionClient {}
