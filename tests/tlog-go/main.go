// Command tlogcheck checks msez's transparency logs with golang.org/x/mod/sumdb/{note,tlog},
// an implementation msez did not write, and writes logs of its own for msez to check.
//
//	tlogcheck verify DIR VKEY [SAMPLE...]   check a C2SP tlog-tiles log in DIR
//	tlogcheck write DIR NAME N              write an N-entry log signed by a new key; print its vkey
//
// x/mod's own Tile.Path is the older sumdb layout (tile/H/L/...); the paths here are C2SP's
// (tile/L/N[.p/W], tile/entries/N[.p/W]). Built offline in GOPATH mode (tests/it/tlog.rs).
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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

// dirTiles reads C2SP hash tiles from a directory.
type dirTiles struct {
	dir   string
	reads int
}

func (d *dirTiles) Height() int { return height }

func (d *dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := os.ReadFile(filepath.Join(d.dir, tilePath(t)))
		if err != nil {
			return nil, err
		}
		d.reads++
		out[i] = b
	}
	return out, nil
}

func (d *dirTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func readBundle(dir string, t tlog.Tile) ([][]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, bundlePath(t)))
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

func verify(dir, vkey string, samples []int64) error {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return err
	}
	msg, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
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
	tr := &dirTiles{dir: dir}
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
		data, err := os.ReadFile(filepath.Join(dir, tilePath(t)))
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
		es, err := readBundle(dir, t)
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
	fmt.Printf("ok origin=%s size=%d tiles=%d entries=%d records=%d\n", lines[0], size, len(tiles), len(entries), len(samples))
	return nil
}

func write(dir, name string, n int64) error {
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return err
	}
	var hashes []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = hashes[x]
		}
		return out, nil
	})
	entry := func(i int64) []byte { return []byte(fmt.Sprintf("go entry %d", i)) }
	for i := int64(0); i < n; i++ {
		hs, err := tlog.StoredHashes(i, entry(i), hr)
		if err != nil {
			return err
		}
		hashes = append(hashes, hs...)
	}
	root, err := tlog.TreeHash(n, hr)
	if err != nil {
		return err
	}
	put := func(p string, b []byte) error {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, b, 0o644)
	}
	for _, t := range c2spTiles(n) {
		data, err := tlog.ReadTileData(t, hr)
		if err != nil {
			return err
		}
		if err := put(tilePath(t), data); err != nil {
			return err
		}
		if t.L == 0 {
			var b []byte
			for i := t.N << height; i < t.N<<height+int64(t.W); i++ {
				e := entry(i)
				b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
				b = append(b, e...)
			}
			if err := put(bundlePath(t), b); err != nil {
				return err
			}
		}
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("%s\n%d\n%s\n", name, n, base64.StdEncoding.EncodeToString(root[:]))
	msg, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		return err
	}
	if err := put("checkpoint", msg); err != nil {
		return err
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
	case len(os.Args) == 5 && os.Args[1] == "write":
		var n int64
		n, err = strconv.ParseInt(os.Args[4], 10, 64)
		if err == nil {
			err = write(os.Args[2], os.Args[3], n)
		}
	default:
		err = errors.New("usage: tlogcheck verify DIR VKEY [SAMPLE...] | write DIR NAME N")
	}
	if err != nil {
		fmt.Fprintln(stderrWriter(), "tlogcheck:", err)
		os.Exit(1)
	}
}

func stderrWriter() *os.File { return os.Stderr }
