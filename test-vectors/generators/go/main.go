// Command s3ec-go drives aws-sdk-go (v1) s3crypto for the s3-encryption test vectors.
//
//	s3ec-go gen  PORT MANIFEST  write objects with the V1 and V2 encryption clients to the loopback
//	                            S3 stand-in, read each back through DecryptionClientV2, and write one
//	                            JSON line per object to MANIFEST (assemble.py makes the vectors)
//	s3ec-go read PORT DIR       upload every s3ec-vector/1 case in DIR with a plain S3 client and
//	                            GET it through DecryptionClientV2; print PASS/FAIL/SKIP per case
//
// Build in GOPATH mode against the Debian package golang-github-aws-aws-sdk-go-dev:
// GO111MODULE=off GOPATH=/usr/share/gocode go build -o s3ec-go main.go
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/ioutil"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/awserr"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/request"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/kms"
	"github.com/aws/aws-sdk-go/service/kms/kmsiface"
	"github.com/aws/aws-sdk-go/service/s3"
	"github.com/aws/aws-sdk-go/service/s3/s3crypto"
)

const (
	bucketGen  = "vectors"
	bucketRead = "ours"
	kmsKeyID   = "arn:aws:kms:us-east-1:111122223333:key/go-s3ec-vectors"
	instrSfx   = ".instruction"
	bigSize    = 1048573
)

var sizes = []int{0, 1, 15, 16, 17, 4095, 4101}

// plaintext is SHA-256("s3ec-vector-plaintext:<n>:<i>") for i = 0, 1, ..., cut to n bytes.
func plaintext(n int) []byte {
	out := make([]byte, 0, n+32)
	for i := 0; len(out) < n; i++ {
		h := sha256.Sum256([]byte(fmt.Sprintf("s3ec-vector-plaintext:%d:%d", n, i)))
		out = append(out, h[:]...)
	}
	return out[:n]
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "s3ec-go: "+format+"\n", args...)
	os.Exit(1)
}

func newSession(port string) *session.Session {
	return session.Must(session.NewSession(&aws.Config{
		Endpoint:         aws.String("http://127.0.0.1:" + port),
		Region:           aws.String("us-east-1"),
		S3ForcePathStyle: aws.Bool(true),
		DisableSSL:       aws.Bool(true),
		Credentials:      credentials.NewStaticCredentials("a", "b", ""),
	}))
}

// ---- an offline KMS ------------------------------------------------------------------------

type issued struct {
	ec        map[string]string
	plaintext []byte
	keyID     string
}

// offlineKMS implements the two kmsiface.KMSAPI calls s3crypto makes. In gen mode it hands out
// fresh data keys and remembers them; in read mode it knows exactly one case's blob.
type offlineKMS struct {
	kmsiface.KMSAPI
	mu     sync.Mutex
	issued map[string]issued
	calls  [][]byte
}

func strMap(m map[string]*string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = aws.StringValue(v)
	}
	return out
}

func (k *offlineKMS) GenerateDataKeyWithContext(_ aws.Context, in *kms.GenerateDataKeyInput, _ ...request.Option) (*kms.GenerateDataKeyOutput, error) {
	pt := make([]byte, 32)
	rnd := make([]byte, 32)
	if _, err := rand.Read(pt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(rnd); err != nil {
		return nil, err
	}
	blob := append([]byte("\x01\x02\x02\x00s3ec-offline-kms:"), rnd...)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.issued[string(blob)] = issued{ec: strMap(in.EncryptionContext), plaintext: pt, keyID: aws.StringValue(in.KeyId)}
	k.calls = append(k.calls, blob)
	return &kms.GenerateDataKeyOutput{KeyId: in.KeyId, Plaintext: pt, CiphertextBlob: blob}, nil
}

func (k *offlineKMS) GenerateDataKey(in *kms.GenerateDataKeyInput) (*kms.GenerateDataKeyOutput, error) {
	return k.GenerateDataKeyWithContext(aws.BackgroundContext(), in)
}

func (k *offlineKMS) DecryptWithContext(_ aws.Context, in *kms.DecryptInput, _ ...request.Option) (*kms.DecryptOutput, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	rec, ok := k.issued[string(in.CiphertextBlob)]
	if !ok || !reflect.DeepEqual(rec.ec, strMap(in.EncryptionContext)) {
		return nil, awserr.New("InvalidCiphertextException", "offline KMS: unknown blob or encryption context", nil)
	}
	return &kms.DecryptOutput{KeyId: aws.String(rec.keyID), Plaintext: rec.plaintext}, nil
}

func (k *offlineKMS) Decrypt(in *kms.DecryptInput) (*kms.DecryptOutput, error) {
	return k.DecryptWithContext(aws.BackgroundContext(), in)
}

// decryptionClient builds a DecryptionClientV2; legacy adds the `kms` wrap and the CBC content
// ciphers (both padder names), which the V1 clients write.
func decryptionClient(sess *session.Session, kmsClient kmsiface.KMSAPI, legacy bool, suffix string) *s3crypto.DecryptionClientV2 {
	cr := s3crypto.NewCryptoRegistry()
	must := func(err error) {
		if err != nil {
			die("registry: %v", err)
		}
	}
	must(s3crypto.RegisterKMSContextWrapWithAnyCMK(cr, kmsClient))
	must(s3crypto.RegisterAESGCMContentCipher(cr))
	if legacy {
		must(s3crypto.RegisterKMSWrapWithAnyCMK(cr, kmsClient))
		must(s3crypto.RegisterAESCBCContentCipher(cr, s3crypto.AESCBCPadder))
		must(s3crypto.RegisterAESCBCContentCipher(cr, s3crypto.NewPKCS7Padder(16)))
	}
	c, err := s3crypto.NewDecryptionClientV2(sess, cr, func(o *s3crypto.DecryptionClientOptions) {
		if suffix != "" && suffix != instrSfx {
			o.LoadStrategy = suffixLoadStrategy{client: o.S3Client.(*s3.S3), suffix: suffix}
		}
	})
	if err != nil {
		die("NewDecryptionClientV2: %v", err)
	}
	return c
}

// suffixLoadStrategy is the default V2 load order (metadata, then instruction file) with a
// caller-chosen instruction-file suffix.
type suffixLoadStrategy struct {
	client *s3.S3
	suffix string
}

func (l suffixLoadStrategy) Load(req *request.Request) (s3crypto.Envelope, error) {
	if req.HTTPResponse.Header.Get("X-Amz-Meta-X-Amz-Key-V2") != "" {
		return s3crypto.HeaderV2LoadStrategy{}.Load(req)
	}
	return s3crypto.S3LoadStrategy{Client: l.client, InstructionFileSuffix: l.suffix}.Load(req)
}

// ---- gen -----------------------------------------------------------------------------------

type family struct {
	id, what   string
	v2         bool
	cbc        bool
	padder     s3crypto.Padder
	matdesc    map[string]string // V1: extra matdesc; V2: caller encryption context
	instr      bool
	sizes      []int
	legacyWrap bool
}

func mdesc(m map[string]string) s3crypto.MaterialDescription {
	out := s3crypto.MaterialDescription{}
	for k, v := range m {
		out[k] = aws.String(v)
	}
	return out
}

func families() []family {
	userMD := map[string]string{"purpose": "s3ec-vectors", "owner": "go-v1"}
	callerEC := map[string]string{"department": "vectors", "purpose": "s3ec-test"}
	var fs []family
	for _, instr := range []bool{false, true} {
		loc := "meta"
		if instr {
			loc = "instr"
		}
		big := func(b bool) []int {
			if b && !instr {
				return append(append([]int{}, sizes...), bigSize)
			}
			return sizes
		}
		fs = append(fs,
			family{id: "v1-kms-gcm-" + loc, what: "s3crypto.NewEncryptionClient (V1) with AESGCMContentCipherBuilder(NewKMSKeyGenerator): x-amz-wrap-alg kms, EC {kms_cmk_id}, AES-256-GCM content",
				instr: instr, sizes: big(true), legacyWrap: true},
			family{id: "v1-kms-gcm-matdesc-" + loc, what: "s3crypto.NewEncryptionClient (V1) with AESGCMContentCipherBuilder(NewKMSKeyGeneratorWithMatDesc): x-amz-wrap-alg kms, EC {kms_cmk_id} plus user matdesc {\"owner\":\"go-v1\",\"purpose\":\"s3ec-vectors\"}, AES-256-GCM content",
				matdesc: userMD, instr: instr, sizes: []int{0, 17, 4101}, legacyWrap: true},
			family{id: "v1-kms-cbc-" + loc, what: "s3crypto.NewEncryptionClient (V1) with AESCBCContentCipherBuilder(NewKMSKeyGenerator, AESCBCPadder): x-amz-wrap-alg kms, EC {kms_cmk_id}, AES-256-CBC content named AES/CBC/PKCS5Padding",
				cbc: true, padder: s3crypto.AESCBCPadder, instr: instr, sizes: big(true), legacyWrap: true},
			family{id: "v1-kms-cbc-pkcs7-" + loc, what: "s3crypto.NewEncryptionClient (V1) with AESCBCContentCipherBuilder(NewKMSKeyGenerator, NewPKCS7Padder(16)): x-amz-wrap-alg kms, EC {kms_cmk_id}, AES-256-CBC content named AES/CBC/PKCS7Padding",
				cbc: true, padder: s3crypto.NewPKCS7Padder(16), instr: instr, sizes: sizes, legacyWrap: true},
			family{id: "v2-kmsctx-" + loc, what: "s3crypto.NewEncryptionClientV2 with AESGCMContentCipherBuilderV2(NewKMSContextKeyGenerator, empty MaterialDescription): kms+context wrap, no caller encryption context, AES-256-GCM content",
				v2: true, instr: instr, sizes: big(true)},
			family{id: "v2-kmsctx-ec-" + loc, what: "s3crypto.NewEncryptionClientV2 with AESGCMContentCipherBuilderV2(NewKMSContextKeyGenerator, MaterialDescription {\"department\":\"vectors\",\"purpose\":\"s3ec-test\"}): kms+context wrap with that caller encryption context, AES-256-GCM content",
				v2: true, matdesc: callerEC, instr: instr, sizes: sizes},
		)
	}
	return fs
}

type putter interface {
	PutObject(*s3.PutObjectInput) (*s3.PutObjectOutput, error)
}

func gen(port, manifest string) {
	sess := newSession(port)
	plain := s3.New(sess)
	if _, err := plain.CreateBucket(&s3.CreateBucketInput{Bucket: aws.String(bucketGen)}); err != nil {
		die("CreateBucket: %v", err)
	}
	okms := &offlineKMS{issued: map[string]issued{}}
	reader := decryptionClient(sess, okms, true, instrSfx)
	strict := decryptionClient(sess, okms, false, instrSfx)
	sdk := fmt.Sprintf("Go aws-sdk-go %s (Debian golang-github-aws-aws-sdk-go-dev, %s)", aws.SDKVersion, runtime.Version())

	mf, err := os.Create(manifest)
	if err != nil {
		die("%v", err)
	}
	defer mf.Close()
	enc := json.NewEncoder(mf)
	count := 0
	for _, f := range families() {
		var save s3crypto.SaveStrategy = s3crypto.HeaderV2SaveStrategy{}
		place := "object metadata"
		if f.instr {
			save = s3crypto.S3SaveStrategy{Client: plain, InstructionFileSuffix: instrSfx}
			place = "instruction file (S3SaveStrategy, suffix .instruction)"
		}
		var client putter
		var clientName string
		if f.v2 {
			b := s3crypto.AESGCMContentCipherBuilderV2(s3crypto.NewKMSContextKeyGenerator(okms, kmsKeyID, mdesc(f.matdesc)))
			c, err := s3crypto.NewEncryptionClientV2(sess, b, func(o *s3crypto.EncryptionClientOptions) { o.SaveStrategy = save })
			if err != nil {
				die("NewEncryptionClientV2: %v", err)
			}
			client, clientName = c, "s3crypto.EncryptionClientV2"
		} else {
			var gen s3crypto.CipherDataGenerator
			if f.matdesc != nil {
				gen = s3crypto.NewKMSKeyGeneratorWithMatDesc(okms, kmsKeyID, mdesc(f.matdesc))
			} else {
				gen = s3crypto.NewKMSKeyGenerator(okms, kmsKeyID)
			}
			var b s3crypto.ContentCipherBuilder
			if f.cbc {
				b = s3crypto.AESCBCContentCipherBuilder(gen, f.padder)
			} else {
				b = s3crypto.AESGCMContentCipherBuilder(gen)
			}
			c := s3crypto.NewEncryptionClient(sess, b, func(o *s3crypto.EncryptionClient) { o.SaveStrategy = save })
			client, clientName = c, "s3crypto.EncryptionClient (V1)"
		}

		for _, n := range f.sizes {
			name := fmt.Sprintf("%s-%07d", f.id, n)
			pt := plaintext(n)
			okms.calls = nil
			if _, err := client.PutObject(&s3.PutObjectInput{Bucket: aws.String(bucketGen), Key: aws.String(name), Body: bytes.NewReader(pt)}); err != nil {
				die("%s: PutObject: %v", name, err)
			}
			if len(okms.calls) != 1 {
				die("%s: expected one GenerateDataKey call, saw %d", name, len(okms.calls))
			}
			// Read it back through the SDK's own decrypting client.
			out, err := reader.GetObject(&s3.GetObjectInput{Bucket: aws.String(bucketGen), Key: aws.String(name)})
			if err != nil {
				die("%s: GetObject: %v", name, err)
			}
			got, err := ioutil.ReadAll(out.Body)
			out.Body.Close()
			if err != nil || !bytes.Equal(got, pt) {
				die("%s: SDK read-back mismatch (%v)", name, err)
			}
			// A registry without the legacy wrap and CBC ciphers must refuse the V1 objects.
			if f.legacyWrap {
				if out, err := strict.GetObject(&s3.GetObjectInput{Bucket: aws.String(bucketGen), Key: aws.String(name)}); err == nil {
					out.Body.Close()
					die("%s: a V2-only registry read a legacy object", name)
				}
			}
			blob := okms.calls[0]
			rec := okms.issued[string(blob)]
			var callerEC interface{}
			if f.v2 && f.matdesc != nil {
				callerEC = f.matdesc
			}
			var instrKey interface{}
			if f.instr {
				instrKey = name + instrSfx
			}
			version := 2 // the V1 clients' kms objects use the V2 key names (x-amz-key-v2)
			entry := map[string]interface{}{
				"name": name, "family": f.id, "bucket": bucketGen, "object_key": name,
				"instruction_key": instrKey,
				"producer":        fmt.Sprintf("%s, %s, SaveStrategy %T", sdk, clientName, save),
				"description": fmt.Sprintf("%s, envelope in %s, %d-byte plaintext (SHA-256(\"s3ec-vector-plaintext:%d:<i>\") stream)",
					f.what, place, n, n),
				"key": map[string]interface{}{
					"kind": "kms", "key_id": rec.keyID,
					"ciphertext_blob_b64": base64.StdEncoding.EncodeToString(blob),
					"encryption_context":  rec.ec,
					"plaintext_b64":       base64.StdEncoding.EncodeToString(rec.plaintext),
				},
				"version": version, "legacy_wrap": f.legacyWrap, "cbc": f.cbc,
				"caller_ec": callerEC, "size": n, "sha256": sha(pt),
			}
			if err := enc.Encode(entry); err != nil {
				die("%v", err)
			}
			count++
		}
	}
	fmt.Fprintf(os.Stderr, "go: wrote and read back %d objects\n", count)
}

// ---- read ----------------------------------------------------------------------------------

type vcase struct {
	Schema string `json:"schema"`
	Object struct {
		Metadata map[string]string `json:"metadata"`
		Body     string            `json:"body"`
	} `json:"object"`
	InstructionFile *struct {
		Body string `json:"body"`
	} `json:"instruction_file"`
	Key struct {
		Kind              string            `json:"kind"`
		KeyID             string            `json:"key_id"`
		CiphertextBlobB64 string            `json:"ciphertext_blob_b64"`
		EncryptionContext map[string]string `json:"encryption_context"`
		PlaintextB64      string            `json:"plaintext_b64"`
	} `json:"key"`
	Decrypt struct {
		CommitmentPolicy           string            `json:"commitment_policy"`
		LegacyWrappingAlgorithms   bool              `json:"legacy_wrapping_algorithms"`
		LegacyUnauthenticatedModes bool              `json:"legacy_unauthenticated_modes"`
		EncryptionContext          map[string]string `json:"encryption_context"`
		InstructionFileSuffix      string            `json:"instruction_file_suffix"`
		Range                      []int64           `json:"range"`
	} `json:"decrypt"`
	Expect map[string]interface{} `json:"expect"`
}

func lowerKeys(m map[string]interface{}) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[strings.ToLower(k)] = s
		} else {
			out[strings.ToLower(k)] = fmt.Sprint(v)
		}
	}
	return out
}

// unsupported says why aws-sdk-go 1.44 cannot read this case, or "".
func unsupported(c *vcase, env map[string]string) string {
	if c.Decrypt.Range != nil {
		return "ranged GET is not supported by aws-sdk-go s3crypto"
	}
	for _, k := range []string{"x-amz-3", "x-amz-c", "x-amz-d", "x-amz-i", "x-amz-w"} {
		if _, ok := env[k]; ok {
			return "V3 format (aws-sdk-go 1.44 s3crypto predates it)"
		}
	}
	if _, ok := env["x-amz-key"]; ok {
		return "V1 x-amz-key objects are not readable by aws-sdk-go s3crypto"
	}
	switch w := env["x-amz-wrap-alg"]; w {
	case "kms+context", "kms":
	default:
		return fmt.Sprintf("wrap algorithm %q is not implemented by aws-sdk-go s3crypto (KMS wraps only)", w)
	}
	switch cek := env["x-amz-cek-alg"]; cek {
	case "AES/GCM/NoPadding", "AES/CBC/PKCS5Padding", "AES/CBC/PKCS7Padding":
	default:
		return fmt.Sprintf("content cipher %q is not implemented by aws-sdk-go s3crypto", cek)
	}
	if _, isErr := c.Expect["error"]; isErr {
		if c.Decrypt.CommitmentPolicy == "REQUIRE_ENCRYPT_REQUIRE_DECRYPT" {
			return "expects a commitment-policy refusal; aws-sdk-go s3crypto has no commitment policy"
		}
		if env["x-amz-wrap-alg"] == "kms+context" {
			var stored map[string]string
			if json.Unmarshal([]byte(env["x-amz-matdesc"]), &stored) == nil {
				delete(stored, "aws:x-amz-cek-alg")
				caller := c.Decrypt.EncryptionContext
				if caller == nil {
					caller = map[string]string{}
				}
				if !reflect.DeepEqual(stored, caller) {
					return "expects a caller encryption-context mismatch; aws-sdk-go s3crypto takes no encryption context on GET"
				}
			}
		}
	}
	return ""
}

type caseKMS struct {
	kmsiface.KMSAPI
	c *vcase
}

func (k *caseKMS) DecryptWithContext(_ aws.Context, in *kms.DecryptInput, _ ...request.Option) (*kms.DecryptOutput, error) {
	blob, err1 := base64.StdEncoding.DecodeString(k.c.Key.CiphertextBlobB64)
	pt, err2 := base64.StdEncoding.DecodeString(k.c.Key.PlaintextB64)
	ec := k.c.Key.EncryptionContext
	if ec == nil {
		ec = map[string]string{}
	}
	if k.c.Key.Kind != "kms" || err1 != nil || err2 != nil || !bytes.Equal(blob, in.CiphertextBlob) ||
		!reflect.DeepEqual(ec, strMap(in.EncryptionContext)) {
		return nil, awserr.New("InvalidCiphertextException", "offline KMS: blob or encryption context differs from the case's record", nil)
	}
	return &kms.DecryptOutput{KeyId: aws.String(k.c.Key.KeyID), Plaintext: pt}, nil
}

func (k *caseKMS) Decrypt(in *kms.DecryptInput) (*kms.DecryptOutput, error) {
	return k.DecryptWithContext(aws.BackgroundContext(), in)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// harnessBroke reports a failure of the plain S3 upload (the stand-in, not the SDK under test)
// and stops: the remaining cases could not be judged either.
func harnessBroke(file string, err error) {
	fmt.Println("FAIL " + file + " harness: " + oneLine(err.Error()))
	die("the S3 stand-in failed a plain upload; stopping")
}

func readCase(sess *session.Session, plain *s3.S3, dir, file string) string {
	raw, err := ioutil.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return "FAIL " + file + " harness: " + oneLine(err.Error())
	}
	var c vcase
	if err := json.Unmarshal(raw, &c); err != nil {
		return "FAIL " + file + " harness: " + oneLine(err.Error())
	}
	if c.Schema != "s3ec-vector/1" {
		return "SKIP " + file + " not an s3ec-vector/1 case"
	}
	body, err := ioutil.ReadFile(filepath.Join(dir, c.Object.Body))
	if err != nil {
		return "FAIL " + file + " harness: " + oneLine(err.Error())
	}
	env := map[string]string{}
	for k, v := range c.Object.Metadata {
		env[strings.ToLower(k)] = v
	}
	var instr []byte
	if c.InstructionFile != nil {
		if instr, err = ioutil.ReadFile(filepath.Join(dir, c.InstructionFile.Body)); err != nil {
			return "FAIL " + file + " harness: " + oneLine(err.Error())
		}
		var ij map[string]interface{}
		if json.Unmarshal(instr, &ij) == nil {
			for k, v := range lowerKeys(ij) {
				if _, ok := env[k]; !ok {
					env[k] = v
				}
			}
		}
	}
	if why := unsupported(&c, env); why != "" {
		return "SKIP " + file + " " + why
	}

	key := strings.TrimSuffix(file, ".json")
	suffix := c.Decrypt.InstructionFileSuffix
	if suffix == "" {
		suffix = instrSfx
	}
	meta := map[string]*string{}
	for k, v := range c.Object.Metadata {
		meta[k] = aws.String(v)
	}
	if _, err := plain.DeleteObject(&s3.DeleteObjectInput{Bucket: aws.String(bucketRead), Key: aws.String(key + suffix)}); err != nil {
		harnessBroke(file, err)
	}
	if _, err := plain.PutObject(&s3.PutObjectInput{Bucket: aws.String(bucketRead), Key: aws.String(key), Body: bytes.NewReader(body), Metadata: meta}); err != nil {
		harnessBroke(file, err)
	}
	if instr != nil {
		if _, err := plain.PutObject(&s3.PutObjectInput{Bucket: aws.String(bucketRead), Key: aws.String(key + suffix), Body: bytes.NewReader(instr)}); err != nil {
			harnessBroke(file, err)
		}
	}

	legacy := c.Decrypt.LegacyWrappingAlgorithms || c.Decrypt.LegacyUnauthenticatedModes
	client := decryptionClient(sess, &caseKMS{c: &c}, legacy, suffix)
	_, wantErr := c.Expect["error"]
	out, err := client.GetObject(&s3.GetObjectInput{Bucket: aws.String(bucketRead), Key: aws.String(key)})
	var got []byte
	if err == nil {
		got, err = ioutil.ReadAll(out.Body)
		out.Body.Close()
	}
	if err != nil {
		if wantErr {
			return "PASS " + file
		}
		return "FAIL " + file + " " + oneLine(err.Error())
	}
	if wantErr {
		return fmt.Sprintf("FAIL %s decrypted %d bytes but the case expects error %v", file, len(got), c.Expect["error"])
	}
	wantLen, _ := c.Expect["plaintext_len"].(float64)
	if int64(len(got)) != int64(wantLen) {
		return fmt.Sprintf("FAIL %s plaintext length %d, expected %d", file, len(got), int64(wantLen))
	}
	if sha(got) != c.Expect["plaintext_sha256"] {
		return "FAIL " + file + " plaintext SHA-256 mismatch"
	}
	return "PASS " + file
}

func read(port, dir string) {
	sess := newSession(port)
	plain := s3.New(sess)
	if _, err := plain.CreateBucket(&s3.CreateBucketInput{Bucket: aws.String(bucketRead)}); err != nil {
		die("CreateBucket (is the S3 stand-in up?): %v", err)
	}
	entries, err := ioutil.ReadDir(dir)
	if err != nil {
		die("%v", err)
	}
	var files []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			files = append(files, e.Name())
		}
	}
	sort.Strings(files)
	for _, f := range files {
		fmt.Println(readCase(sess, plain, dir, f))
	}
}

func main() {
	if len(os.Args) != 4 {
		die("usage: s3ec-go gen PORT MANIFEST | s3ec-go read PORT DIR")
	}
	switch os.Args[1] {
	case "gen":
		gen(os.Args[2], os.Args[3])
	case "read":
		read(os.Args[2], os.Args[3])
	default:
		die("unknown mode %q", os.Args[1])
	}
}
