// Package secrets seals small values that must be stored but not readable
// from a copy of the database alone (TOTP seeds, external client secrets).
// It uses AES-256-GCM from the standard library with a key kept in a file
// outside the database (DATA/keys/secrets.key), created on first use.
//
// Sealed values are "v1.<base64url(nonce|ciphertext)>"; the version prefix
// leaves room for KMS-held keys (gocloud.dev/secrets) later.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Box seals and opens values with one key.
type Box struct {
	aead   cipher.AEAD
	macKey []byte
}

// LoadOrCreate reads the 32-byte key at path, creating it (mode 0600) if
// missing.
func LoadOrCreate(path string) (*Box, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("secrets: generate key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("secrets: key directory: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return LoadOrCreate(path) // another process won the race
		}
		if err != nil {
			return nil, fmt.Errorf("secrets: write key: %w", err)
		}
		_, werr := f.Write(key)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, fmt.Errorf("secrets: write key: %w", werr)
		}
	} else if err != nil {
		return nil, fmt.Errorf("secrets: read key: %w", err)
	}
	return New(key)
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secrets: key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	// A separate key for MACs, derived so that one file holds both.
	mk := hmac.New(sha256.New, key)
	mk.Write([]byte("portico-secrets-mac-v1"))
	return &Box{aead: aead, macKey: mk.Sum(nil)}, nil
}

// MAC returns a keyed hash of data (HMAC-SHA-256, hex): a stable pseudonym
// for a value, such as an email address someone tried, that cannot be
// reversed by hashing guesses without the key.
func (b *Box) MAC(data string) string {
	m := hmac.New(sha256.New, b.macKey)
	m.Write([]byte(data))
	return hex.EncodeToString(m.Sum(nil))
}

// Seal encrypts plaintext. context binds the value to where it is stored
// (for example "totp:<account id>"), so a sealed value copied to another
// row does not open there.
func (b *Box) Seal(plaintext, context string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secrets: nonce: %w", err)
	}
	out := b.aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
	return "v1." + base64.RawURLEncoding.EncodeToString(out), nil
}

// ErrOpen means a sealed value is corrupt, was sealed under another key or
// context, or was tampered with.
var ErrOpen = errors.New("secrets: cannot open sealed value")

// Open decrypts a value from Seal with the same context.
func (b *Box) Open(sealed, context string) (string, error) {
	raw, ok := strings.CutPrefix(sealed, "v1.")
	if !ok {
		return "", ErrOpen
	}
	data, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(data) < b.aead.NonceSize() {
		return "", ErrOpen
	}
	n := b.aead.NonceSize()
	pt, err := b.aead.Open(nil, data[:n], data[n:], []byte(context))
	if err != nil {
		return "", ErrOpen
	}
	return string(pt), nil
}
