# frozen_string_literal: true
#
# Reads s3ec-vector/1 cases through Ruby's Aws::S3::EncryptionV2::Client.
# For each case: upload body + metadata (and the instruction file) with a plain S3 client to the
# loopback stand-in, GET it through the decrypting client, compare with the expectation.
# Prints exactly one line per case: PASS <file>, FAIL <file> <reason> or SKIP <file> <why>.
#
# usage: ruby read.rb PORT DIR

require 'aws-sdk-s3'
require 'aws-sdk-kms'
require 'base64'
require 'digest'
require 'json'
require 'openssl'

$stdout.sync = true
Warning[:deprecated] = false

PORT = Integer(ARGV.fetch(0))
DIR = ARGV.fetch(1)
BUCKET = 'ours'

S3 = Aws::S3::Client.new(endpoint: "http://127.0.0.1:#{PORT}", force_path_style: true,
                         region: 'us-east-1', credentials: Aws::Credentials.new('a', 'b'))
S3.create_bucket(bucket: BUCKET)

# Offline KMS: Decrypt answers only the case's recorded blob + encryption context.
$kms_case = nil
KMS = Aws::KMS::Client.new(stub_responses: true, region: 'us-east-1',
                           credentials: Aws::Credentials.new('a', 'b'), validate_params: false)
KMS.stub_responses(:decrypt, lambda { |ctx|
  k = $kms_case
  ec = (ctx.params[:encryption_context] || {}).transform_keys(&:to_s)
  ok = k && k['kind'] == 'kms' &&
       ctx.params[:ciphertext_blob].b == Base64.decode64(k['ciphertext_blob_b64']).b &&
       ec == (k['encryption_context'] || {})
  next 'InvalidCiphertextException' unless ok
  { key_id: k['key_id'], plaintext: Base64.decode64(k['plaintext_b64']) }
})

def lower_keys(h)
  (h || {}).each_with_object({}) { |(k, v), o| o[k.to_s.downcase] = v }
end

def one_line(s)
  s.to_s.gsub(/\s+/, ' ')[0, 300]
end

# Returns a reason to skip, or nil.
def unsupported(c, meta, instr)
  d = c['decrypt'] || {}
  return 'ranged GET is not supported by the Ruby encryption clients' if d['range']
  env = meta.merge(instr || {})
  if %w[x-amz-3 x-amz-c x-amz-d x-amz-i x-amz-w].any? { |k| env.key?(k) }
    return 'V3 format (aws-sdk-s3 1.117.2 has no EncryptionV3 client)'
  end
  wrap = env['x-amz-wrap-alg']
  if wrap && !%w[AES/GCM RSA-OAEP-SHA1 kms+context kms].include?(wrap)
    return "wrap algorithm #{wrap} is not implemented by the Ruby client"
  end
  cek = env['x-amz-cek-alg']
  if cek && !%w[AES/GCM/NoPadding AES/CBC/PKCS5Padding AES/CBC/PKCS7Padding].include?(cek)
    return "content cipher #{cek} is not implemented by the Ruby client"
  end
  if c['expect'].key?('error') && d['commitment_policy'] == 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT'
    return 'expects a commitment-policy refusal; the Ruby V2 client has no commitment policy'
  end
  nil
end

def client_for(c)
  k = c['key']
  d = c['decrypt'] || {}
  legacy = d['legacy_wrapping_algorithms'] || d['legacy_unauthenticated_modes']
  opts = { client: S3, content_encryption_schema: :aes_gcm_no_padding,
           security_profile: legacy ? :v2_and_legacy : :v2,
           instruction_file_suffix: d['instruction_file_suffix'] || '.instruction' }
  case k['kind']
  when 'aes' then opts.update(encryption_key: Base64.decode64(k['key_b64']), key_wrap_schema: :aes_gcm)
  when 'rsa' then opts.update(encryption_key: OpenSSL::PKey::RSA.new(k['private_key_pem']), key_wrap_schema: :rsa_oaep_sha1)
  when 'kms' then opts.update(kms_key_id: k['key_id'], kms_client: KMS, key_wrap_schema: :kms_context)
  else raise ArgumentError, "unknown key kind #{k['kind']}"
  end
  # :v2_and_legacy prints a warning on every construction; keep the PASS/FAIL/SKIP output clean.
  saved = $stderr
  $stderr = StringIO.new
  begin
    Aws::S3::EncryptionV2::Client.new(**opts)
  ensure
    $stderr = saved
  end
end

files = Dir.children(DIR).select { |f| f.end_with?('.json') }.sort
files.each do |file|
  begin
    c = JSON.parse(File.read(File.join(DIR, file)))
    next puts("SKIP #{file} not an s3ec-vector/1 case") unless c['schema'] == 's3ec-vector/1'

    base = File.dirname(File.join(DIR, file))
    body = File.binread(File.join(base, c['object']['body']))
    meta = c['object']['metadata'] || {}
    instr = c['instruction_file'] && File.binread(File.join(base, c['instruction_file']['body']))
    instr_json = begin
      instr && lower_keys(JSON.parse(instr))
    rescue JSON::ParserError
      {}
    end
    if (why = unsupported(c, lower_keys(meta), instr_json))
      puts "SKIP #{file} #{why}"
      next
    end

    key = file.sub(/\.json\z/, '')
    suffix = c.dig('decrypt', 'instruction_file_suffix') || '.instruction'
    S3.delete_object(bucket: BUCKET, key: key + suffix)
    S3.put_object(bucket: BUCKET, key: key, body: body, metadata: meta)
    S3.put_object(bucket: BUCKET, key: key + suffix, body: instr) if instr

    $kms_case = c['key']
    get = { bucket: BUCKET, key: key }
    ec = c.dig('decrypt', 'encryption_context')
    get[:kms_encryption_context] = ec if ec
    expect = c['expect']
    begin
      got = client_for(c).get_object(**get).body.read.b
    rescue StandardError => e
      if expect.key?('error')
        puts "PASS #{file}"
      else
        puts "FAIL #{file} #{one_line("#{e.class}: #{e.message}")}"
      end
      next
    end
    if expect.key?('error')
      puts "FAIL #{file} decrypted #{got.bytesize} bytes but the case expects error #{expect['error'].inspect}"
    elsif got.bytesize != expect['plaintext_len']
      puts "FAIL #{file} plaintext length #{got.bytesize}, expected #{expect['plaintext_len']}"
    elsif Digest::SHA256.hexdigest(got) != expect['plaintext_sha256']
      puts "FAIL #{file} plaintext SHA-256 mismatch"
    else
      puts "PASS #{file}"
    end
  rescue Seahorse::Client::NetworkingError => e
    puts "FAIL #{file} harness: #{one_line("#{e.class}: #{e.message}")}"
    warn 'read.rb: the S3 stand-in is unreachable; stopping'
    exit 2
  rescue StandardError => e
    puts "FAIL #{file} harness: #{one_line("#{e.class}: #{e.message}")}"
  end
end
