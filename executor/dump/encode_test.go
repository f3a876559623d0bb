package dump

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestAppendQuoted compares appendQuoted with a byte-at-a-time reference
// on random bytes rich in the escaped ones.
func TestAppendQuoted(t *testing.T) {
	ref := func(v []byte) []byte {
		out := []byte{'\''}
		for _, b := range v {
			switch b {
			case 0:
				out = append(out, '\\', '0')
			case '\'', '\\':
				out = append(out, '\\', b)
			case '\n':
				out = append(out, '\\', 'n')
			case '\r':
				out = append(out, '\\', 'r')
			case 0x1a:
				out = append(out, '\\', 'Z')
			default:
				out = append(out, b)
			}
		}
		return append(out, '\'')
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0, '\'', '\\', '\n', '\r', 0x1a, 'a', 0xff, 0xc3, '"'}
	for n := 0; n < 2000; n++ {
		v := make([]byte, r.IntN(40))
		for i := range v {
			v[i] = alphabet[r.IntN(len(alphabet))]
		}
		if got, want := appendQuoted([]byte("x"), v), append([]byte("x"), ref(v)...); !bytes.Equal(got, want) {
			t.Fatalf("appendQuoted(%q) = %q, want %q", v, got, want)
		}
	}
}

func BenchmarkAppendQuoted(b *testing.B) {
	v := []byte("83868641912-28773972837-60736120486-75162659906-27563526494-20381887404-41576422241-93426793964-56405065102-33518432330")
	buf := make([]byte, 0, 1<<20)
	for i := 0; i < b.N; i++ {
		buf = appendQuoted(buf[:0], v)
	}
}
