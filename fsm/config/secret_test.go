package config

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testKey = mustKey("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")

func mustKey(h string) Key {
	k, err := ParseKey(h)
	if err != nil {
		panic(err)
	}
	return k
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	for _, key := range []Key{DefaultKey, testKey} {
		for _, plain := range []string{"", "p", "123456", "päss wörd ✓", strings.Repeat("x", 1000)} {
			t.Run(fmt.Sprintf("%q", plain), func(t *testing.T) {
				enc, err := Encrypt(key, plain)
				if err != nil {
					t.Fatal(err)
				}
				if len(plain) >= 4 && strings.Contains(enc, plain) {
					t.Fatalf("ciphertext contains the plain text")
				}
				if _, err := base64.StdEncoding.DecodeString(enc); err != nil {
					t.Fatalf("not base64: %v", err)
				}
				got, err := Decrypt(key, enc)
				if err != nil || got != plain {
					t.Fatalf("Decrypt = %q, %v; want %q", got, err, plain)
				}
				if !IsEncrypted(key, enc) {
					t.Fatal("IsEncrypted = false for an Encrypt result")
				}
			})
		}
	}
}

func TestEncryptIsDeterministicPerPassword(t *testing.T) {
	a1, _ := Encrypt(testKey, "alpha")
	a2, _ := Encrypt(testKey, "alpha")
	b, _ := Encrypt(testKey, "beta")
	d, _ := Encrypt(DefaultKey, "alpha")
	if a1 != a2 {
		t.Errorf("same password, same key: %q != %q", a1, a2)
	}
	if a1 == b || a1[:16] == b[:16] {
		t.Errorf("different passwords share a ciphertext or nonce: %q %q", a1, b)
	}
	if a1 == d {
		t.Errorf("different keys give the same ciphertext")
	}
}

func TestDecryptAcceptsAnyNonce(t *testing.T) {
	block, _ := aes.NewCipher(testKey[:])
	gcm, _ := cipher.NewGCM(block)
	nonce := []byte("any-nonce-12")
	s := base64.StdEncoding.EncodeToString(gcm.Seal(nonce, nonce, []byte("hunter2"), nil))
	if got, err := Decrypt(testKey, s); err != nil || got != "hunter2" {
		t.Fatalf("Decrypt = %q, %v", got, err)
	}
}

func TestDecryptErrors(t *testing.T) {
	enc, _ := Encrypt(testKey, "Sup3rS3cret")
	tamper := []byte(enc)
	tamper[20] ^= 'A' ^ 'B'
	for name, tc := range map[string]struct {
		key Key
		s   string
	}{
		"wrong key":  {DefaultKey, enc},
		"plain text": {testKey, "Sup3rS3cret"},
		"empty":      {testKey, ""},
		"too short":  {testKey, base64.StdEncoding.EncodeToString([]byte("short"))},
		"tampered":   {testKey, string(tamper)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decrypt(tc.key, tc.s)
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("err = %v, want ErrDecrypt", err)
			}
			if IsEncrypted(tc.key, tc.s) {
				t.Fatal("IsEncrypted = true")
			}
			if strings.Contains(err.Error(), "Sup3rS3cret") || (tc.s != "" && strings.Contains(err.Error(), tc.s)) {
				t.Fatalf("error leaks its input: %v", err)
			}
		})
	}
}

func TestParseAndLoadKey(t *testing.T) {
	const good = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, path string
		wantErr    error
	}{
		{"valid with newline", write("good", good+"\n"), nil},
		{"too short", write("short", good[:62]), ErrInvalidKey},
		{"not hex", write("nothex", "zz"+good[2:]), ErrInvalidKey},
		{"missing file", filepath.Join(dir, "nope"), os.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := LoadKey(tc.path)
			if tc.wantErr == nil {
				if err != nil || k[0] != 0xff || k[31] != 0x00 {
					t.Fatalf("LoadKey = %x, %v", k, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), good[4:20]) {
				t.Fatalf("error leaks key material: %v", err)
			}
		})
	}
}

func TestKeyAndMaskHideSecrets(t *testing.T) {
	if s := fmt.Sprintf("%v %+v %#v %s", testKey, testKey, testKey, testKey); strings.Contains(s, "0x1f") || strings.Contains(s, "31") {
		t.Errorf("key printed: %s", s)
	}
	if Mask("") != "" || Mask("hunter2") != "******" {
		t.Errorf("Mask = %q, %q", Mask(""), Mask("hunter2"))
	}
	d := DBConfig{Host: "h", Port: 1, User: "u", Password: "hunter2"}
	if s := fmt.Sprintf("%v %+v %#v %s", d, &d, d, d); strings.Contains(s, "hunter2") || !strings.Contains(s, "******") {
		t.Errorf("DBConfig printed: %s", s)
	}
}

func TestEncryptPasswordKeepsOrReencrypts(t *testing.T) {
	underKey, _ := Encrypt(testKey, "pw")
	underDefault, _ := Encrypt(DefaultKey, "pw")
	tests := []struct {
		name, in string
		wantSame bool
	}{
		{"plain text is encrypted", "pw", false},
		{"encrypted with the key is kept", underKey, true},
		{"encrypted with the default key is re-encrypted", underDefault, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := DBConfig{Host: "h", Password: tc.in}
			if err := d.EncryptPassword(testKey); err != nil {
				t.Fatal(err)
			}
			if d.Password != "" || (d.PasswordEncrypted == tc.in) != tc.wantSame {
				t.Fatalf("got Password %q PasswordEncrypted %q", d.Password, d.PasswordEncrypted)
			}
			if p, err := d.PlainPassword(testKey); err != nil || p != "pw" {
				t.Fatalf("PlainPassword = %q, %v", p, err)
			}
		})
	}
	empty := DBConfig{}
	if err := empty.EncryptPassword(testKey); err != nil || empty.PasswordEncrypted != "" {
		t.Fatalf("empty password: %q, %v", empty.PasswordEncrypted, err)
	}
}
