// Command tlogcheck checks msez's transparency logs with golang.org/x/mod/sumdb/{note,tlog},
// an implementation msez did not write, and writes logs of its own for msez to check.
//
//	tlogcheck verify SOURCE VKEY [SAMPLE...]   check a C2SP tlog-tiles log
//	tlogcheck write DIR NAME N                 write an N-entry log signed by a new key; print its vkey
//	tlogcheck witness-requests DIR NAME N      write N tlog-witness add-checkpoint bodies (sizes
//	                                           1..N, each with its consistency proof from the
//	                                           size before) signed by a new key; print its vkey
//
// SOURCE is a directory, an http(s):// base URL, or s3://BUCKET/PREFIX, read from the S3
// endpoint in AWS_ENDPOINT_URL (path style) with requests signed by AWS Signature Version 4
// from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION: the reader is this program's,
// written with the standard library (no AWS SDK, no msez code).
//
// x/mod's own Tile.Path is the older sumdb layout (tile/H/L/...); the paths here are C2SP's
// (tile/L/N[.p/W], tile/entries/N[.p/W]). Built offline in GOPATH mode (tests/it/tlog.rs).
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const height = 8

func encodeIndex(n int64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n /= 1000; n > 0; n /= 1000 {
		s = fmt.Sprintf("x%03d/", n%1000) + s
	}
	return s
}

func tilePath(t tlog.Tile) string {
	p := fmt.Sprintf("tile/%d/%s", t.L, encodeIndex(t.N))
	if t.W != 1<<height {
		p += fmt.Sprintf(".p/%d", t.W)
	}
	return p
}

func bundlePath(t tlog.Tile) string {
	p := "tile/entries/" + encodeIndex(t.N)
	if t.W != 1<<height {
		p += fmt.Sprintf(".p/%d", t.W)
	}
	return p
}

// c2spTiles is x/mod's NewTiles(8, 0, size) without the narrower partial tiles: sumdb keeps
// every width of a partial tile, a C2SP log only the one of its current size.
func c2spTiles(size int64) []tlog.Tile {
	all := tlog.NewTiles(height, 0, size)
	var out []tlog.Tile
	for i, t := range all {
		if i+1 < len(all) && all[i+1].L == t.L && all[i+1].N == t.N {
			continue
		}
		out = append(out, t)
	}
	return out
}

// store reads a published log's files by their path under the log's root.
type store interface {
	read(path string) ([]byte, error)
}

type dirStore string

func (d dirStore) read(p string) ([]byte, error) { return os.ReadFile(filepath.Join(string(d), p)) }

// httpStore reads from a base URL, each GET signed for S3 when sign is set.
type httpStore struct {
	base   *url.URL
	bucket string // s3: the bucket, first segment of the path-style URL
	prefix string // s3: the log's prefix in the bucket
	sign   bool
}

func openStore(src string) (store, error) {
	switch {
	case strings.HasPrefix(src, "s3://"):
		rest := strings.TrimPrefix(src, "s3://")
		bucket, prefix, _ := strings.Cut(rest, "/")
		ep := os.Getenv("AWS_ENDPOINT_URL")
		if ep == "" {
			ep = os.Getenv("MSEZ_TEST_S3_ENDPOINT")
		}
		if ep == "" || bucket == "" {
			return nil, errors.New("s3:// needs a bucket and AWS_ENDPOINT_URL")
		}
		u, err := url.Parse(ep)
		if err != nil {
			return nil, err
		}
		return &httpStore{base: u, bucket: bucket, prefix: strings.Trim(prefix, "/"), sign: true}, nil
	case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
		u, err := url.Parse(strings.TrimRight(src, "/"))
		if err != nil {
			return nil, err
		}
		return &httpStore{base: u}, nil
	}
	return dirStore(src), nil
}

func (h *httpStore) read(p string) ([]byte, error) {
	path := h.base.Path + "/" + p
	if h.sign {
		key := p
		if h.prefix != "" {
			key = h.prefix + "/" + p
		}
		path = strings.TrimRight(h.base.Path, "/") + "/" + h.bucket + "/" + key
	}
	u := *h.base
	u.Path = path
	u.RawPath = ""
	req, err := http.NewRequest("GET", u.String(), nil)
	if err != nil {
		return nil, err
	}
	if h.sign {
		signV4(req, path)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %s", u.String(), resp.Status)
	}
	return b, nil
}

func hmacSHA256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// signV4 signs a body-less S3 request (AWS Signature Version 4, header form).
func signV4(req *http.Request, path string) {
	now := time.Now().UTC()
	amzDate, day := now.Format("20060102T150405Z"), now.Format("20060102")
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	empty := sha256.Sum256(nil)
	payload := hex.EncodeToString(empty[:])
	req.Header.Set("x-amz-date", amzDate)
	req.Header.Set("x-amz-content-sha256", payload)
	var segs []string
	for _, s := range strings.Split(path, "/") {
		segs = append(segs, strings.ReplaceAll(url.PathEscape(s), "+", "%2B"))
	}
	canonical := strings.Join([]string{
		"GET",
		strings.Join(segs, "/"),
		"",
		"host:" + req.URL.Host + "\nx-amz-content-sha256:" + payload + "\nx-amz-date:" + amzDate + "\n",
		"host;x-amz-content-sha256;x-amz-date",
		payload,
	}, "\n")
	scope := day + "/" + region + "/s3/aws4_request"
	ch := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(ch[:])
	k := hmacSHA256([]byte("AWS4"+os.Getenv("AWS_SECRET_ACCESS_KEY")), day)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, "s3")
	k = hmacSHA256(k, "aws4_request")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+os.Getenv("AWS_ACCESS_KEY_ID")+"/"+scope+
		", SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="+hex.EncodeToString(hmacSHA256(k, toSign)))
}

// storeTiles reads C2SP hash tiles from a store, each path once: tlog.TileHashReader proves
// every tile it is handed against the tree, and the check below compares the same bytes.
type storeTiles struct {
	s     store
	cache map[string][]byte
	reads int
}

func (d *storeTiles) Height() int { return height }

func (d *storeTiles) tile(p string) ([]byte, error) {
	if b, ok := d.cache[p]; ok {
		return b, nil
	}
	b, err := d.s.read(p)
	if err != nil {
		return nil, err
	}
	d.reads++
	d.cache[p] = b
	return b, nil
}

func (d *storeTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := d.tile(tilePath(t))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (d *storeTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func readBundle(s store, t tlog.Tile) ([][]byte, error) {
	b, err := s.read(bundlePath(t))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, errors.New("truncated entry length")
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, errors.New("entry past the bundle")
		}
		out = append(out, b[2:2+n])
		b = b[2+n:]
	}
	if len(out) != t.W {
		return nil, fmt.Errorf("%s: %d entries, want %d", bundlePath(t), len(out), t.W)
	}
	return out, nil
}

func verify(src, vkey string, samples []int64) error {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return err
	}
	st, err := openStore(src)
	if err != nil {
		return err
	}
	msg, err := st.read("checkpoint")
	if err != nil {
		return err
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return fmt.Errorf("note: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != v.Name() {
		return fmt.Errorf("checkpoint origin %q is not the key name %q", lines[0], v.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return err
	}
	rb, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rb) != 32 {
		return fmt.Errorf("bad root hash %q", lines[2])
	}
	var root tlog.Hash
	copy(root[:], rb)
	tree := tlog.Tree{N: size, Hash: root}
	tr := &storeTiles{s: st, cache: map[string][]byte{}}
	hr := tlog.TileHashReader(tree, tr)
	// Every hash of every tile, through the reader that proves each tile against the tree.
	tiles := c2spTiles(size)
	for _, t := range tiles {
		idx := make([]int64, t.W)
		for i := range idx {
			idx[i] = tlog.StoredHashIndex(t.L*height, t.N<<height+int64(i))
		}
		hs, err := hr.ReadHashes(idx)
		if err != nil {
			return fmt.Errorf("%s: %v", tilePath(t), err)
		}
		data, err := tr.tile(tilePath(t))
		if err != nil {
			return err
		}
		for i, h := range hs {
			if !bytes.Equal(h[:], data[32*i:32*i+32]) {
				return fmt.Errorf("%s: hash %d differs", tilePath(t), i)
			}
		}
	}
	entries := make([][]byte, 0, size)
	for _, t := range tiles {
		if t.L != 0 {
			continue
		}
		es, err := readBundle(st, t)
		if err != nil {
			return err
		}
		entries = append(entries, es...)
	}
	for i := 0; i < len(entries); i += 1 << height {
		end := i + 1<<height
		if end > len(entries) {
			end = len(entries)
		}
		idx := make([]int64, 0, end-i)
		for j := i; j < end; j++ {
			idx = append(idx, tlog.StoredHashIndex(0, int64(j)))
		}
		hs, err := hr.ReadHashes(idx)
		if err != nil {
			return err
		}
		for j, h := range hs {
			if h != tlog.RecordHash(entries[i+j]) {
				return fmt.Errorf("entry %d does not hash to its leaf", i+j)
			}
		}
	}
	for _, s := range samples {
		p, err := tlog.ProveRecord(size, s, hr)
		if err != nil {
			return fmt.Errorf("prove %d: %v", s, err)
		}
		if err := tlog.CheckRecord(p, size, root, s, tlog.RecordHash(entries[s])); err != nil {
			return fmt.Errorf("record %d: %v", s, err)
		}
	}
	fmt.Printf("ok origin=%s size=%d tiles=%d entries=%d records=%d reads=%d\n", lines[0], size, len(tiles), len(entries), len(samples), tr.reads)
	return nil
}

// buildLog returns a log of n entries (entry(i)) as x/mod's stored hashes and a reader.
func buildLog(n int64, entry func(int64) []byte) ([]tlog.Hash, tlog.HashReader, error) {
	var hashes []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = hashes[x]
		}
		return out, nil
	})
	for i := int64(0); i < n; i++ {
		hs, err := tlog.StoredHashes(i, entry(i), hr)
		if err != nil {
			return nil, nil, err
		}
		hashes = append(hashes, hs...)
	}
	return hashes, hr, nil
}

func put(dir, p string, b []byte) error {
	p = filepath.Join(dir, p)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o644)
}

func signCheckpoint(signer note.Signer, name string, n int64, hr tlog.HashReader) ([]byte, error) {
	root, err := tlog.TreeHash(n, hr)
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf("%s\n%d\n%s\n", name, n, base64.StdEncoding.EncodeToString(root[:]))
	return note.Sign(&note.Note{Text: text}, signer)
}

func write(dir, name string, n int64) error {
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return err
	}
	entry := func(i int64) []byte { return []byte(fmt.Sprintf("go entry %d", i)) }
	_, hr, err := buildLog(n, entry)
	if err != nil {
		return err
	}
	for _, t := range c2spTiles(n) {
		data, err := tlog.ReadTileData(t, hr)
		if err != nil {
			return err
		}
		if err := put(dir, tilePath(t), data); err != nil {
			return err
		}
		if t.L == 0 {
			var b []byte
			for i := t.N << height; i < t.N<<height+int64(t.W); i++ {
				e := entry(i)
				b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
				b = append(b, e...)
			}
			if err := put(dir, bundlePath(t), b); err != nil {
				return err
			}
		}
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return err
	}
	msg, err := signCheckpoint(signer, name, n, hr)
	if err != nil {
		return err
	}
	if err := put(dir, "checkpoint", msg); err != nil {
		return err
	}
	fmt.Println(vkey)
	return nil
}

// witnessRequests writes DIR/<i> for i = 0..n-1: the tlog-witness add-checkpoint body that
// grows a log from size 1000+i-1 (0 for the first) to 1000+i, with x/mod's consistency proof
// (tlog.ProveTree) and the note signed by a new key, whose vkey it prints.
func witnessRequests(dir, name string, n int64) error {
	const base = 1000
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return err
	}
	_, hr, err := buildLog(base+n, func(i int64) []byte { return []byte(fmt.Sprintf("witness entry %d", i)) })
	if err != nil {
		return err
	}
	for i := int64(0); i < n; i++ {
		size, old := base+i, base+i-1
		var proof tlog.TreeProof
		if i == 0 {
			old = 0
		} else if proof, err = tlog.ProveTree(size, old, hr); err != nil {
			return err
		}
		msg, err := signCheckpoint(signer, name, size, hr)
		if err != nil {
			return err
		}
		body := fmt.Sprintf("old %d\n", old)
		for _, h := range proof {
			body += base64.StdEncoding.EncodeToString(h[:]) + "\n"
		}
		if err := put(dir, strconv.FormatInt(i, 10), append([]byte(body+"\n"), msg...)); err != nil {
			return err
		}
	}
	fmt.Println(vkey)
	return nil
}

func main() {
	var err error
	switch {
	case len(os.Args) >= 4 && os.Args[1] == "verify":
		var samples []int64
		for _, s := range os.Args[4:] {
			x, perr := strconv.ParseInt(s, 10, 64)
			if perr != nil {
				err = perr
				break
			}
			samples = append(samples, x)
		}
		if err == nil {
			err = verify(os.Args[2], os.Args[3], samples)
		}
	case len(os.Args) == 5 && (os.Args[1] == "write" || os.Args[1] == "witness-requests"):
		var n int64
		n, err = strconv.ParseInt(os.Args[4], 10, 64)
		if err == nil && os.Args[1] == "write" {
			err = write(os.Args[2], os.Args[3], n)
		} else if err == nil {
			err = witnessRequests(os.Args[2], os.Args[3], n)
		}
	default:
		err = errors.New("usage: tlogcheck verify SOURCE VKEY [SAMPLE...] | write DIR NAME N | witness-requests DIR NAME N")
	}
	if err != nil {
		fmt.Fprintln(stderrWriter(), "tlogcheck:", err)
		os.Exit(1)
	}
}

func stderrWriter() *os.File { return os.Stderr }
