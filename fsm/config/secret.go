package config

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
)

// Key is the AES-256 key that encrypts the passwords of sources and tasks.
type Key [32]byte

// DefaultKey is built in, like DM's fixed key, so that `dmctl encrypt` and a
// test cluster work without set-up. Anyone with this source code can decrypt
// what it encrypts: production clusters must pass --secret-key-path, a file
// of 64 hex characters (e.g. `openssl rand -hex 32`), to every node and to
// dmctl. It is the only package-level state; never modify it.
var DefaultKey = Key{
	0x06, 0x61, 0xd8, 0x75, 0x21, 0x6a, 0x4b, 0x78, 0x81, 0x4e, 0xb3, 0x06, 0x37, 0x3d, 0xf3, 0xd6,
	0xb6, 0x3d, 0x1b, 0x49, 0x39, 0x13, 0xae, 0x34, 0x41, 0x28, 0xfc, 0x29, 0xa5, 0x62, 0x40, 0x65,
}

// masked is what a password looks like in logs, status and masked YAML.
const masked = "******"

// String hides the key, so that printing it by mistake leaks nothing.
func (Key) String() string { return "Key(" + masked + ")" }

// GoString hides the key from %#v too.
func (k Key) GoString() string { return k.String() }

// ParseKey parses 64 hex characters (surrounding white space is ignored).
func ParseKey(hexText string) (Key, error) {
	var k Key
	text := bytes.TrimSpace([]byte(hexText))
	if len(text) != 2*len(k) {
		return k, fmt.Errorf("parse key: %w: want 64 hex characters, got %d characters", ErrInvalidKey, len(text))
	}
	if _, err := hex.Decode(k[:], text); err != nil {
		// hex errors quote the offending byte; keep key material out of messages.
		return Key{}, fmt.Errorf("parse key: %w: not hexadecimal", ErrInvalidKey)
	}
	return k, nil
}

// LoadKey reads a key file of 64 hex characters (DM's --secret-key-path).
func LoadKey(path string) (Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("load key %s: %w", path, err)
	}
	k, err := ParseKey(string(data))
	if err != nil {
		return Key{}, fmt.Errorf("load key %s: %w", path, err)
	}
	return k, nil
}

const nonceSize = 12

// Encrypt returns base64(nonce || AES-256-GCM ciphertext and tag) of plain.
//
// The nonce is synthetic: HMAC-SHA256 of the plain text under a key derived
// from key, cut to 12 bytes. So one password always encrypts to the same
// string (a re-submitted task.yaml yields an identical FSM record and no
// spurious restart), while two different passwords never share a nonce. The
// only thing this reveals is whether two stored passwords are equal.
// Decrypt accepts any nonce, so randomly-nonced strings decrypt as well.
func Encrypt(key Key, plain string) (string, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return "", fmt.Errorf("encrypt: %w", err)
	}
	nonceKey := sha256.Sum256(append([]byte("dmraft/config password nonce\x00"), key[:]...))
	mac := hmac.New(sha256.New, nonceKey[:])
	mac.Write([]byte(plain))
	nonce := mac.Sum(nil)[:nonceSize]
	sealed := gcm.Seal(nonce, nonce, []byte(plain), nil)
	return base64.StdEncoding.EncodeToString(sealed), nil
}

// Decrypt reverses Encrypt. The error wraps ErrDecrypt and never contains s.
func Decrypt(key Key, s string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("decrypt: %w: not base64", ErrDecrypt)
	}
	gcm, err := newGCM(key)
	if err != nil {
		return "", fmt.Errorf("decrypt: %w", err)
	}
	if len(raw) < nonceSize+gcm.Overhead() {
		return "", fmt.Errorf("decrypt: %w: too short", ErrDecrypt)
	}
	plain, err := gcm.Open(nil, raw[:nonceSize], raw[nonceSize:], nil)
	if err != nil {
		return "", fmt.Errorf("decrypt: %w: wrong key or not an encrypted password", ErrDecrypt)
	}
	return string(plain), nil
}

// IsEncrypted reports whether s decrypts cleanly with key.
func IsEncrypted(key Key, s string) bool {
	_, err := Decrypt(key, s)
	return err == nil
}

// Mask returns "******" for a non-empty s and "" for an empty one, for logs.
func Mask(s string) string {
	if s == "" {
		return ""
	}
	return masked
}

func newGCM(key Key) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// encryptPassword returns the stored form of a password written in a YAML
// file: a string already encrypted with key is kept; one encrypted with
// DefaultKey (`dmctl encrypt` without a key file) is re-encrypted with key;
// anything else is plain text and is encrypted. Empty stays empty.
func encryptPassword(key Key, pw string) (string, error) {
	if pw == "" || IsEncrypted(key, pw) {
		return pw, nil
	}
	plain := pw
	if p, err := Decrypt(DefaultKey, pw); err == nil {
		plain = p
	}
	return Encrypt(key, plain)
}

// decryptOrPlain returns the plain text of a password written in a YAML
// file, trying key and then DefaultKey; otherwise pw is plain text.
func decryptOrPlain(key Key, pw string) string {
	if p, err := Decrypt(key, pw); err == nil {
		return p
	}
	if p, err := Decrypt(DefaultKey, pw); err == nil {
		return p
	}
	return pw
}
