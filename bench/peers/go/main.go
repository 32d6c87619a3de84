// The Go peer of bench/peers/run.sh: aws-sdk-go 1.44.133 s3crypto, V2 content encryption
// (AES-256-GCM, 12-byte IV, no AAD), timed in-process around the crypto calls only.
//
//	s3ec-bench-go encrypt|decrypt KEY_HEX IV_HEX FILE
//
// Prints one line per variant: RESULT <variant> wall=<s>,<s>,<s> cpu=<s>,<s>,<s> <sha256 of the output>
// (wall clock and process CPU time, all threads including the garbage collector's, of each run).
//
//	sdk     the s3crypto content cipher, as the V2 clients build it. Encrypt:
//	        AESGCMContentCipherBuilderV2(generator).ContentCipher() with a CipherDataGeneratorWithCEKAlg
//	        that hands out the benchmark key and IV (in place of the KMS key generator), then
//	        EncryptContents(body) read out with io.Copy, as putObjectRequest does (minus its SHA-256
//	        payload hash and temporary-file store). Decrypt: the "AES/GCM/NoPadding" CEK entry of a
//	        CryptoRegistry filled by RegisterAESGCMContentCipher (what the decryption client looks up),
//	        then DecryptContents(body) read out with io.Copy. Bodies are bytes.Readers over the file;
//	        destinations are bytes.Buffers grown to size before the timer.
//	stdlib  crypto/aes + crypto/cipher NewGCM, one Seal / Open into a preallocated buffer (the AEAD
//	        the content cipher wraps).
package main

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/ioutil"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/s3/s3crypto"
)

const runs = 3

// fixedGenerator stands in for the KMS data-key generator: it returns the benchmark key and IV.
type fixedGenerator struct{ key, iv []byte }

func (g fixedGenerator) GenerateCipherDataWithCEKAlg(ctx aws.Context, keySize, ivSize int, cekAlg string) (s3crypto.CipherData, error) {
	if keySize != len(g.key) || ivSize != len(g.iv) {
		return s3crypto.CipherData{}, fmt.Errorf("unexpected sizes %d/%d", keySize, ivSize)
	}
	return s3crypto.CipherData{
		Key:                 append([]byte(nil), g.key...),
		IV:                  append([]byte(nil), g.iv...),
		WrapAlgorithm:       "bench",
		CEKAlgorithm:        cekAlg,
		MaterialDescription: s3crypto.MaterialDescription{},
	}, nil
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "go:", err)
		os.Exit(1)
	}
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	must(err)
	return b
}

// sample is one run: wall clock and process CPU time.
type sample struct{ wall, cpu time.Duration }

type timer struct {
	wall time.Time
	cpu  time.Duration
}

// processCPU is the CPU time of the whole process (user + system, all threads).
func processCPU() time.Duration {
	var ru syscall.Rusage
	must(syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func start() timer {
	cpu := processCPU()
	return timer{time.Now(), cpu}
}

func (t timer) stop() sample {
	wall := time.Since(t.wall)
	return sample{wall, processCPU() - t.cpu}
}

func report(variant string, runs []sample, out []byte) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "RESULT %s", variant)
	for k, name := range []string{"wall", "cpu"} {
		fmt.Fprintf(&sb, " %s=", name)
		for i, r := range runs {
			d := r.wall
			if k == 1 {
				d = r.cpu
			}
			if i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "%.6f", d.Seconds())
		}
	}
	sum := sha256.Sum256(out)
	fmt.Fprintf(&sb, " %s", hex.EncodeToString(sum[:]))
	fmt.Println(sb.String())
}

func main() {
	if len(os.Args) != 5 || (os.Args[1] != "encrypt" && os.Args[1] != "decrypt") {
		fmt.Fprintln(os.Stderr, "usage: s3ec-bench-go encrypt|decrypt KEY_HEX IV_HEX FILE")
		os.Exit(2)
	}
	encrypt := os.Args[1] == "encrypt"
	key, iv := unhex(os.Args[2]), unhex(os.Args[3])
	input, err := ioutil.ReadFile(os.Args[4])
	must(err)
	outLen := len(input) + 16
	if !encrypt {
		outLen = len(input) - 16
	}

	registry := s3crypto.NewCryptoRegistry()
	must(s3crypto.RegisterAESGCMContentCipher(registry))
	cek, ok := registry.GetCEK(s3crypto.AESGCMNoPadding)
	if !ok {
		must(fmt.Errorf("no %s CEK entry", s3crypto.AESGCMNoPadding))
	}
	builder := s3crypto.AESGCMContentCipherBuilderV2(fixedGenerator{key, iv})

	var sdkTimes, stdTimes []sample
	var sdkOut, stdOut []byte
	dst := make([]byte, outLen)
	for r := 0; r < runs; r++ {
		var sink bytes.Buffer
		sink.Grow(outLen)
		var t timer
		if encrypt {
			t = start()
			cc, err := builder.ContentCipher()
			must(err)
			rd, err := cc.EncryptContents(bytes.NewReader(input))
			must(err)
			_, err = io.Copy(&sink, rd)
			must(err)
		} else {
			t = start()
			cc, err := cek(s3crypto.CipherData{Key: key, IV: iv, CEKAlgorithm: s3crypto.AESGCMNoPadding})
			must(err)
			rc, err := cc.DecryptContents(ioutil.NopCloser(bytes.NewReader(input)))
			must(err)
			_, err = io.Copy(&sink, rc)
			must(err)
			must(rc.Close())
		}
		sdkTimes = append(sdkTimes, t.stop())
		sdkOut = sink.Bytes()

		t = start()
		block, err := aes.NewCipher(key)
		must(err)
		aead, err := cipher.NewGCM(block)
		must(err)
		if encrypt {
			stdOut = aead.Seal(dst[:0], iv, input, nil)
		} else {
			stdOut, err = aead.Open(dst[:0], iv, input, nil)
			must(err)
		}
		stdTimes = append(stdTimes, t.stop())
	}
	if len(sdkOut) != outLen || len(stdOut) != outLen {
		must(fmt.Errorf("output lengths %d/%d, want %d", len(sdkOut), len(stdOut), outLen))
	}
	fmt.Fprintf(os.Stderr, "go: %s, aws-sdk-go %s (s3crypto)\n", runtime.Version(), aws.SDKVersion)
	report("sdk", sdkTimes, sdkOut)
	report("stdlib", stdTimes, stdOut)
}
