# frozen_string_literal: true
#
# Drives the Ruby aws-sdk-s3 encryption clients (Aws::S3::Encryption::Client and
# Aws::S3::EncryptionV2::Client) against the loopback S3 stand-in (s3stub.py), reads every
# object back through the SDK itself as a check, and writes one JSON line per object to the
# manifest. assemble.py then turns the manifest plus what the stand-in recorded into vectors.
#
# usage: ruby gen.rb PORT MANIFEST

require 'aws-sdk-s3'
require 'aws-sdk-kms'
require 'base64'
require 'digest'
require 'json'
require 'openssl'
require 'securerandom'

$stderr.sync = true
Warning[:deprecated] = false

PORT = Integer(ARGV.fetch(0))
MANIFEST = ARGV.fetch(1)
BUCKET = 'vectors'

# Fixed master keys, used only for these test vectors.
AES_KEY_V1 = ['db2bc14ca69c9756bed22bb905e1ae9a9fe3bf882779ea0eb3c00a0ce73c2582'].pack('H*')
AES_KEY_V2 = ['fd1ec63bd3468f01887e1a635a63409d62ed7b384bf13a7f2e8796554b354088'].pack('H*')
RSA_PEM = <<~PEM
  -----BEGIN PRIVATE KEY-----
  MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCq8yihLA/YFdYZ
  /ewYCuG5rniz88AWRQH7NguwWPxJrkYRcm5A5wLicFxT4E7JZY3czze6nyt1Hmh9
  BmUXm/KMt+uEi2XUa0wDsjIwBraDUqpKlLzMzQARE6/Zsov74uikiJljohDfoLX0
  MyWKCr2nH6Biccz+YBjnmtGxGY0G6tubeKkdNOq9TZATLbUqvvY/Lx9L9EFtkL2C
  7vp6RW8RCciM0nx/H9/pmpR6y15YJS6jnAOq0wteosLu8nBl1GpEoTnl/H4ZUC7q
  sDesKOeC/mo5yr9ldsLJ91Z3209WsS1Dja8NZ6V9d61ZLnWzxx7PP0NYbEqCmn+K
  rHuYuEOjAgMBAAECggEAAaFrHRc8ZkCJd8FmK8tV+goerzZSegPmsAlrO1KsXI/z
  rb2F+eSzygqHUh3jTBffYaB9jn0JK/qCLAfp4lVDwkrYzYok12dXyys7P+qe4An9
  HNP/wjZSwb1XboykICvUZNYp6S55DO3NmBdkZfiSdLi5zcz6RxNBX/T0+t4pbBjz
  +3ADG1PQnVMlCff0LuEwZQVa4o9xKlAhGl5NI7v55KimLf+iazUrfL7g+x6wqVJE
  4rOAhEMeG0YFsaB4AzkgaD/2cXwpE0prX3zRRAVHDECDZiCppWWRNfkI5ugSuBB4
  rpfKW+gyboJkmxRG3Ikd+Udh4ppYNhuHzoOpd3jryQKBgQDbpvub4kRa41I9BRIL
  hCSOtlh0y48nPxVSIQlyfXNm/Gv10GJgjjR4z6tBsKPJG9Z0KPmQEC7l1fRB3xe0
  qvPklHlEO0GMLPiih7zaiGgdS4qHsplx9fqJ4k33MxyYQnN6If3KBtkLp7QRj14T
  rZpMRnlBkgQJiiHUU6PV0hchmQKBgQDHPQT1QZsyoAyfJCTbJlktFwIydfDTL8t6
  Fe0atY4UG0ZKN/0a0W5VPUAnlZUPJjicWXel3l06YgKDVdF2Mb+0wNYjMAg9ixRm
  TAVHlSKueqHaz+aSvs5+odu22d3eyd+cVaqIt7LerNdsf50NNFahzSSKz7EFsIo7
  ZMqm3hnMmwKBgEQKVNRz4bK5ygbG5FEW7PAcQghj6gNBQkx/mVqSy8WyGYs6ss6w
  HkbyJV2i5wlsCyFOdAgRS0W84f3pqoE3l3dOGsZtCJ/walCGdZTIPmAcv1vLkka/
  6Iz/wiD5/ziXFQhXMTN8rY0ztM7ft0enNi28guEx5vhBhrsr8YtRmgK5AoGAFNup
  gjeNFN62k46IIT1Bhrvq6fd479MIHU7gVLR/HFHCqRB1efJE972C0uIRCdX5hTzE
  juPZpLwQAUnhtNr+c+DgSizEIBVIXHFG+Dh/uf5ypWKwg9pf6dfuFZV3adR+iXJa
  eReqLS+xGdW+TlyVWTkNw058/Nh/kDo8EP4de1MCgYEAzQz5EyEwgi8lq8ohrRT3
  f8htyWsMekgeDxQNefrVgurTpTHun4qo3/hyt27Noo/Fv1K3bl4coAFuw9StnXTl
  xzPe3rg1lT8nArf8Kml/lz0w1oIqkt0QdS3fJh55xWiX63d1xVBat+b+NvpHq9ee
  bq+eO1Df69tqRSQaRxktQpA=
  -----END PRIVATE KEY-----
PEM
RSA_KEY = OpenSSL::PKey::RSA.new(RSA_PEM)
KMS_KEY_ID = 'arn:aws:kms:us-east-1:111122223333:key/ruby-s3ec-vectors'

SIZES = [0, 1, 15, 16, 17, 4095, 4101].freeze
BIG = 1_048_573
SDK = "Ruby aws-sdk-s3 #{Aws::S3::GEM_VERSION} (aws-sdk-core #{Aws::CORE_GEM_VERSION}, " \
      "aws-sdk-kms #{Aws::KMS::GEM_VERSION}, ruby #{RUBY_VERSION}, #{OpenSSL::OPENSSL_LIBRARY_VERSION})"

# Deterministic plaintext: SHA-256("s3ec-vector-plaintext:<n>:<i>") for i = 0, 1, ..., cut to n.
def plaintext(n)
  out = String.new(encoding: Encoding::BINARY)
  i = 0
  while out.bytesize < n
    out << Digest::SHA256.digest("s3ec-vector-plaintext:#{n}:#{i}")
    i += 1
  end
  out.byteslice(0, n)
end

# ---- an offline KMS: a stubbed client that remembers what it handed out -------------------
KMS_ISSUED = {} # ciphertext blob => { ec:, plaintext: }
KMS_CALLS = []

def kms_client
  c = Aws::KMS::Client.new(stub_responses: true, region: 'us-east-1',
                           credentials: Aws::Credentials.new('a', 'b'),
                           validate_params: false) # the Debian KMS gem lacks KeyId on Decrypt
  c.stub_responses(:generate_data_key, lambda { |ctx|
    ec = (ctx.params[:encryption_context] || {}).transform_keys(&:to_s)
    pt = SecureRandom.random_bytes(32)
    blob = "\x01\x02\x02\x00s3ec-offline-kms:".b + SecureRandom.random_bytes(32)
    KMS_ISSUED[blob] = { ec: ec, plaintext: pt, key_id: ctx.params[:key_id] }
    KMS_CALLS << blob
    { key_id: ctx.params[:key_id], plaintext: pt, ciphertext_blob: blob }
  })
  c.stub_responses(:decrypt, lambda { |ctx|
    rec = KMS_ISSUED[ctx.params[:ciphertext_blob]]
    ec = (ctx.params[:encryption_context] || {}).transform_keys(&:to_s)
    next 'InvalidCiphertextException' unless rec && rec[:ec] == ec
    { key_id: rec[:key_id], plaintext: rec[:plaintext] }
  })
  c
end
KMS = kms_client

def s3_client
  Aws::S3::Client.new(endpoint: "http://127.0.0.1:#{PORT}", force_path_style: true,
                      region: 'us-east-1', credentials: Aws::Credentials.new('a', 'b'))
end
S3 = s3_client
S3.create_bucket(bucket: BUCKET)

def key_record(wrap)
  case wrap
  when :aes1 then { kind: 'aes', key_b64: Base64.strict_encode64(AES_KEY_V1) }
  when :aes2 then { kind: 'aes', key_b64: Base64.strict_encode64(AES_KEY_V2) }
  when :rsa then { kind: 'rsa', private_key_pem: RSA_PEM }
  end
end

def kms_record(blob)
  rec = KMS_ISSUED.fetch(blob)
  { kind: 'kms', key_id: rec[:key_id], ciphertext_blob_b64: Base64.strict_encode64(blob),
    encryption_context: rec[:ec], plaintext_b64: Base64.strict_encode64(rec[:plaintext]) }
end

FAMILIES = []

def family(**f)
  FAMILIES << f
end

# V1 client: Aws::S3::Encryption::Client
{ aes: ['aes', 'AES-256 master key: x-amz-key = AES-256-ECB/PKCS#7 wrap of the data key'],
  rsa: ['rsa', 'RSA-2048 key pair: x-amz-key = RSAES-PKCS1-v1_5 wrap of the data key'],
  kms: ['kms', 'KMS: x-amz-wrap-alg kms, EC {kms_cmk_id}'] }.each do |w, (tag, what)|
  %i[metadata instruction_file].each do |loc|
    sizes = SIZES + (w == :aes && loc == :metadata ? [BIG] : [])
    family(client: :v1, wrap: w, loc: loc, sizes: sizes,
           id: "v1-#{tag}-#{loc == :metadata ? 'meta' : 'instr'}",
           what: "Aws::S3::Encryption::Client (V1), #{what}, AES-256-CBC/PKCS#7 content",
           version: w == :kms ? 2 : 1, legacy_wrap: true, cbc: true)
  end
end

# V2 client: Aws::S3::EncryptionV2::Client
MATDESC = '{"purpose":"s3ec-vectors","owner":"ruby-v2"}'
CALLER_EC = { 'department' => 'vectors', 'purpose' => 's3ec-test' }.freeze
[[:aes, 'aes', 'AES-256 master key: AES/GCM wrap (AAD "AES/GCM/NoPadding"), matdesc {}', SIZES],
 [:aes_md, 'aes-matdesc', "AES-256 master key: AES/GCM wrap, custom materials description #{MATDESC}", [0, 17, 4101]],
 [:rsa, 'rsa', 'RSA-2048 key pair: RSA-OAEP-SHA1 wrap, matdesc {}', SIZES],
 [:rsa_md, 'rsa-matdesc', "RSA-2048 key pair: RSA-OAEP-SHA1 wrap, custom materials description #{MATDESC}", [0, 17, 4101]],
 [:kms, 'kmsctx', 'KMS: kms+context wrap, no caller encryption context', SIZES],
 [:kms_ec, 'kmsctx-ec', "KMS: kms+context wrap, caller encryption context #{JSON.generate(CALLER_EC)}", SIZES]
].each do |w, tag, what, sizes|
  %i[metadata instruction_file].each do |loc|
    s = sizes + (w == :kms && loc == :metadata ? [BIG] : [])
    family(client: :v2, wrap: w, loc: loc, sizes: s,
           id: "v2-#{tag}-#{loc == :metadata ? 'meta' : 'instr'}",
           what: "Aws::S3::EncryptionV2::Client, #{what}, AES-256-GCM content",
           version: 2, legacy_wrap: false, cbc: false)
  end
end

# The V1 client prints a maintenance-mode deprecation notice with a backtrace; keep the log clean.
def quietly
  saved = $stderr
  $stderr = StringIO.new
  yield
ensure
  $stderr = saved
end

def build_client(f)
  common = { client: S3, envelope_location: f[:loc] }
  if f[:client] == :v1
    opts = case f[:wrap]
           when :aes then { encryption_key: AES_KEY_V1 }
           when :rsa then { encryption_key: RSA_KEY }
           when :kms then { kms_key_id: KMS_KEY_ID, kms_client: KMS }
           end
    return quietly { Aws::S3::Encryption::Client.new(**common, **opts) }
  end
  opts = { content_encryption_schema: :aes_gcm_no_padding, security_profile: :v2 }
  case f[:wrap]
  when :aes then opts.update(encryption_key: AES_KEY_V2, key_wrap_schema: :aes_gcm)
  when :aes_md then opts.update(encryption_key: AES_KEY_V2, key_wrap_schema: :aes_gcm, materials_description: MATDESC)
  when :rsa then opts.update(encryption_key: RSA_KEY, key_wrap_schema: :rsa_oaep_sha1)
  when :rsa_md then opts.update(encryption_key: RSA_KEY, key_wrap_schema: :rsa_oaep_sha1, materials_description: MATDESC)
  when :kms, :kms_ec then opts.update(kms_key_id: KMS_KEY_ID, kms_client: KMS, key_wrap_schema: :kms_context)
  end
  Aws::S3::EncryptionV2::Client.new(**common, **opts)
end

# A V2 client in its strict profile (:v2), to confirm it refuses the legacy objects.
STRICT_V2 = {
  aes: Aws::S3::EncryptionV2::Client.new(client: S3, encryption_key: AES_KEY_V1, key_wrap_schema: :aes_gcm,
                                         content_encryption_schema: :aes_gcm_no_padding, security_profile: :v2),
  rsa: Aws::S3::EncryptionV2::Client.new(client: S3, encryption_key: RSA_KEY, key_wrap_schema: :rsa_oaep_sha1,
                                         content_encryption_schema: :aes_gcm_no_padding, security_profile: :v2),
  kms: Aws::S3::EncryptionV2::Client.new(client: S3, kms_key_id: KMS_KEY_ID, kms_client: KMS, key_wrap_schema: :kms_context,
                                         content_encryption_schema: :aes_gcm_no_padding, security_profile: :v2)
}.freeze

count = 0
File.open(MANIFEST, 'w') do |mf|
  FAMILIES.each do |f|
    client = build_client(f)
    f[:sizes].each do |n|
      name = format('%s-%07d', f[:id], n)
      pt = plaintext(n)
      caller_ec = f[:wrap] == :kms_ec ? CALLER_EC : nil
      KMS_CALLS.clear
      put = { bucket: BUCKET, key: name, body: pt }
      put[:kms_encryption_context] = caller_ec if caller_ec
      client.put_object(**put)

      # Read it back through the SDK's own decrypting client.
      get = { bucket: BUCKET, key: name }
      get[:kms_encryption_context] = caller_ec if caller_ec
      got = build_client(f).get_object(**get).body.read.b
      raise "#{name}: SDK read-back mismatch" unless got == pt

      if f[:client] == :v1
        begin
          STRICT_V2.fetch(f[:wrap]).get_object(bucket: BUCKET, key: name)
          raise "#{name}: EncryptionV2 :v2 profile read a legacy object"
        rescue Aws::S3::EncryptionV2::Errors::LegacyDecryptionError
          nil # expected: the strict profile refuses legacy wraps
        end
      end

      key = if %i[kms kms_ec].include?(f[:wrap])
              raise "#{name}: expected one GenerateDataKey call" unless KMS_CALLS.size == 1
              kms_record(KMS_CALLS.first)
            else
              key_record(f[:client] == :v1 && f[:wrap] == :aes ? :aes1 : (f[:wrap].to_s.start_with?('aes') ? :aes2 : :rsa))
            end
      loc = f[:loc] == :metadata ? 'object metadata' : 'instruction file (suffix .instruction)'
      entry = {
        name: name, family: f[:id], bucket: BUCKET, object_key: name,
        instruction_key: f[:loc] == :instruction_file ? "#{name}.instruction" : nil,
        producer: "#{SDK}, #{f[:client] == :v1 ? 'Aws::S3::Encryption::Client' : 'Aws::S3::EncryptionV2::Client (security_profile :v2)'}, " \
                  "envelope_location :#{f[:loc]}",
        description: "#{f[:what]}, envelope in #{loc}, #{n}-byte plaintext " \
                     "(SHA-256(\"s3ec-vector-plaintext:#{n}:<i>\") stream)",
        key: key, version: f[:version], legacy_wrap: f[:legacy_wrap], cbc: f[:cbc],
        caller_ec: caller_ec, size: n, sha256: Digest::SHA256.hexdigest(pt)
      }
      mf.puts(JSON.generate(entry))
      count += 1
    end
  end
end
warn "ruby: wrote and read back #{count} objects"
