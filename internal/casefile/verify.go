package casefile

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Verify checks a case zip against its manifest: every file listed is
// there with its size and SHA-256 recomputed from the content, no file is
// there that the manifest does not list, and every recording matches the
// SHA-256 stored when it was archived. It returns the manifest, and an
// error wrapping ErrAltered that names every difference.
func Verify(r io.ReaderAt, size int64) (Manifest, error) {
	var m Manifest
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return m, fmt.Errorf("verify case file: %w", err)
	}
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		if _, dup := files[f.Name]; dup {
			return m, fmt.Errorf("verify case file: %s twice: %w", f.Name, ErrAltered)
		}
		files[f.Name] = f
	}
	mf, ok := files[ManifestName]
	if !ok {
		return m, fmt.Errorf("verify case file: no %s: %w", ManifestName, ErrAltered)
	}
	rc, err := mf.Open()
	if err != nil {
		return m, fmt.Errorf("verify case file: %w", err)
	}
	err = json.NewDecoder(rc).Decode(&m)
	rc.Close()
	if err != nil {
		return m, fmt.Errorf("verify case file: %s: %w", ManifestName, err)
	}
	var problems []error
	listed := map[string]File{ManifestName: {}}
	for _, want := range m.Files {
		listed[want.Name] = want
		f, ok := files[want.Name]
		if !ok {
			problems = append(problems, fmt.Errorf("%s: missing", want.Name))
			continue
		}
		got, err := sum(f)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", want.Name, err))
			continue
		}
		if got.Size != want.Size || got.SHA256 != want.SHA256 {
			problems = append(problems, fmt.Errorf("%s: %d bytes with SHA-256 %s, manifest says %d bytes with %s", want.Name, got.Size, got.SHA256, want.Size, want.SHA256))
		}
	}
	for name := range files {
		if _, ok := listed[name]; !ok {
			problems = append(problems, fmt.Errorf("%s: not in the manifest", name))
		}
	}
	for _, rec := range m.Recordings {
		f, ok := listed[rec.File]
		switch {
		case !ok:
			problems = append(problems, fmt.Errorf("recording %s: %s not listed", rec.ICID, rec.File))
		case f.SHA256 != rec.StoredSHA256:
			problems = append(problems, fmt.Errorf("recording %s: SHA-256 %s, archived as %s", rec.ICID, f.SHA256, rec.StoredSHA256))
		}
	}
	if err := errors.Join(problems...); err != nil {
		return m, fmt.Errorf("verify case file: %w: %w", ErrAltered, err)
	}
	return m, nil
}

// sum returns the size and SHA-256 of f's content.
func sum(f *zip.File) (File, error) {
	rc, err := f.Open()
	if err != nil {
		return File{}, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return File{}, err
	}
	return File{Name: f.Name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}
