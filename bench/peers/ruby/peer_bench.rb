# The Ruby peer of bench/peers/run.sh: aws-sdk-s3 (Debian ruby-aws-sdk-s3) EncryptionV2, V2 content
# encryption (AES-256-GCM, 12-byte IV, no AAD), timed in-process around the crypto calls only.
#
#   ruby peer_bench.rb encrypt|decrypt KEY_HEX IV_HEX FILE
#
# Prints one line per variant: RESULT <variant> wall=<s>,<s>,<s> cpu=<s>,<s>,<s> <sha256 of the output>
# (wall clock and process CPU time of each run).
#
#   sdk  Encrypt: the cipher from Aws::S3::EncryptionV2::Utils.aes_encryption_cipher(:GCM), key, IV and
#        auth_data = '' set in DefaultCipherProvider#encryption_cipher's order, then the calls of
#        IOEncrypter#encrypt_to_tempfile (the path for bodies over 1 MiB): 1 MiB reads of the body,
#        cipher.update(chunk, buffer), cipher.final, cipher.auth_tag, written to an in-memory sink
#        instead of the Tempfile. Decrypt: Utils.aes_decryption_cipher(:GCM, key, iv), auth_tag and
#        auth_data = '' set as DecryptHandler#authenticated_decrypter does, then the SDK's own
#        Aws::S3::EncryptionV2::IOAuthDecrypter writing into the sink (the response target), fed the stored body
#        (ciphertext and tag) in 16 KiB writes (Net::HTTP's read size), then #finalize. This
#        releases plaintext before the tag is checked at #finalize, as the SDK does.
#
# The sink is an IO-like #write over a String allocated and written once, before the timers, and
# rewound for each run, so no run pays for growing or page-faulting a fresh 64 MiB String.
#
# The SDK's path is the OpenSSL cipher itself (no wrapper beyond the chunking), so there is no
# separate "bare primitive" variant.

require 'aws-sdk-s3'
require 'digest'
require 'stringio'

RUNS = 3
MIB = 1024 * 1024
HTTP_CHUNK = 16 * 1024

# [wall, process CPU] at one instant.
def now
  cpu = Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID)
  [Process.clock_gettime(Process::CLOCK_MONOTONIC), cpu]
end

def since(start)
  wall = Process.clock_gettime(Process::CLOCK_MONOTONIC) - start[0]
  [wall, Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID) - start[1]]
end

# Writes go over a preallocated String (no truncate: IODecrypter would call it).
class Sink
  def initialize(size)
    @buf = ("\xA5".b * size)
    @io = StringIO.new(@buf)
  end

  def rewind
    @io.rewind
  end

  def write(s)
    @io.write(s)
  end

  def string
    @buf.byteslice(0, @io.pos)
  end
end

def report(variant, runs, out)
  wall = runs.map { |r| format('%.6f', r[0]) }.join(',')
  cpu = runs.map { |r| format('%.6f', r[1]) }.join(',')
  puts "RESULT #{variant} wall=#{wall} cpu=#{cpu} #{Digest::SHA256.hexdigest(out)}"
end

unless ARGV.size == 4 && %w[encrypt decrypt].include?(ARGV[0])
  warn 'usage: peer_bench.rb encrypt|decrypt KEY_HEX IV_HEX FILE'
  exit 2
end
encrypt = ARGV[0] == 'encrypt'
key = [ARGV[1]].pack('H*')
iv = [ARGV[2]].pack('H*')
input = File.binread(ARGV[3]).freeze
utils = Aws::S3::EncryptionV2::Utils

sdk_times = []
sink = Sink.new(encrypt ? input.bytesize + 16 : input.bytesize - 16)
RUNS.times do
  sink.rewind
  if encrypt
    t = now
    cipher = utils.aes_encryption_cipher(:GCM)
    cipher.key = key
    cipher.iv = iv
    cipher.auth_data = ''
    io = StringIO.new(input)
    while (chunk = io.read(MIB, read_buffer ||= String.new))
      sink.write(cipher.update(chunk, cipher_buffer ||= String.new))
    end
    sink.write(cipher.final)
    sink.write(cipher.auth_tag)
    sdk_times << since(t)
    read_buffer = cipher_buffer = nil
  else
    len = input.bytesize - 16
    tag = input.byteslice(len, 16)
    t = now
    cipher = utils.aes_decryption_cipher(:GCM, key, iv)
    cipher.auth_tag = tag
    cipher.auth_data = ''
    dec = Aws::S3::EncryptionV2::IOAuthDecrypter.new(io: sink, encrypted_content_length: len, cipher: cipher)
    off = 0
    while off < input.bytesize
      dec.write(input.byteslice(off, HTTP_CHUNK))
      off += HTTP_CHUNK
    end
    dec.finalize
    sdk_times << since(t)
  end
end
sdk_out = sink.string
warn "ruby: #{RUBY_DESCRIPTION}; #{OpenSSL::OPENSSL_LIBRARY_VERSION}; aws-sdk-s3 #{Aws::S3::GEM_VERSION}"
report('sdk', sdk_times, sdk_out)
