package redact

// Secret is a flag.Value for a secret setting: it never shows its value,
// so --help and flag dumps cannot print it. Bind a string field with
// fs.Var((*redact.Secret)(&field), name, usage).
type Secret string

// Set stores v.
func (s *Secret) Set(v string) error { *s = Secret(v); return nil }

// String is always empty.
func (s *Secret) String() string { return "" }
