// Package pgpsign makes and checks detached, ASCII-armored OpenPGP signatures with
// ProtonMail/go-crypto, so releases are signed without gpg, its agent or a keyring.
package pgpsign

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/mathesar-foundation/mathesar-packaging/internal/atomicfile"
)

// LoadKey reads an armored secret key file holding one signing key. A key protected by a
// passphrase is unlocked with passphrase.
func LoadKey(path string, passphrase []byte) (*openpgp.Entity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open signing key: %w; set MATHESAR_SIGNING_KEY to an armored OpenPGP secret key file", err)
	}
	defer f.Close()
	ring, err := openpgp.ReadArmoredKeyRing(f)
	if err != nil {
		return nil, fmt.Errorf("read signing key %s: %w; export it with `gpg --armor --export-secret-keys KEYID`", path, err)
	}
	if len(ring) != 1 {
		return nil, fmt.Errorf("signing key %s holds %d keys; export exactly one", path, len(ring))
	}
	e := ring[0]
	if e.PrivateKey == nil {
		return nil, fmt.Errorf("%s holds a public key only; export the secret key", path)
	}
	if e.PrivateKey.Encrypted {
		if len(passphrase) == 0 {
			return nil, fmt.Errorf("signing key %s is protected by a passphrase; set MATHESAR_SIGNING_PASSPHRASE", path)
		}
		if err := e.PrivateKey.Decrypt(passphrase); err != nil {
			return nil, fmt.Errorf("unlock signing key %s: %w", path, err)
		}
		for _, sub := range e.Subkeys {
			if sub.PrivateKey != nil && sub.PrivateKey.Encrypted {
				if err := sub.PrivateKey.Decrypt(passphrase); err != nil {
					return nil, fmt.Errorf("unlock signing subkey of %s: %w", path, err)
				}
			}
		}
	}
	return e, nil
}

// Config signs with SHA-256 at a fixed time and without go-crypto's random salt notation,
// so the same key, data and time give the same signature bytes for deterministic keys
// (Ed25519, RSA PKCS#1 v1.5): rebuilding a release reproduces its signatures.
func Config(at time.Time) *packet.Config {
	salted := false
	return &packet.Config{DefaultHash: crypto.SHA256, Time: func() time.Time { return at }, NonDeterministicSignaturesViaNotation: &salted}
}

// Sign writes an armored detached signature of data, made at time at.
func Sign(w io.Writer, key *openpgp.Entity, data io.Reader, at time.Time) error {
	return openpgp.ArmoredDetachSign(w, key, data, Config(at))
}

// SignFile writes path's signature to out, through a temporary file renamed into place.
func SignFile(key *openpgp.Entity, path, out string, at time.Time) error {
	in, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sign %s: %w", path, err)
	}
	defer in.Close()
	var buf bytes.Buffer
	if err := Sign(&buf, key, in, at); err != nil {
		return fmt.Errorf("sign %s: %w", path, err)
	}
	return atomicfile.WriteFile(out, buf.Bytes(), 0o644)
}

// Verify checks an armored detached signature of data against the armored public keys.
func Verify(publicKeys, data, signature io.Reader) (*openpgp.Entity, error) {
	ring, err := openpgp.ReadArmoredKeyRing(publicKeys)
	if err != nil {
		return nil, fmt.Errorf("read public key: %w", err)
	}
	signer, err := openpgp.CheckArmoredDetachedSignature(ring, data, signature, nil)
	if err != nil {
		return nil, fmt.Errorf("bad signature: %w", err)
	}
	return signer, nil
}

// NewTestKey makes a throwaway Ed25519 key and returns its armored secret and public parts.
// The key is dated 2000-01-01, because a signature may not predate its key and release
// signatures carry the (possibly old) SOURCE_DATE_EPOCH as their time.
func NewTestKey(name, email string) (secret, public []byte, err error) {
	created := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	e, err := openpgp.NewEntity(name, "throwaway test key", email, &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return created }})
	if err != nil {
		return nil, nil, err
	}
	var sec, pub bytes.Buffer
	w, err := armor.Encode(&sec, openpgp.PrivateKeyType, nil)
	if err != nil {
		return nil, nil, err
	}
	if err := e.SerializePrivate(w, nil); err != nil {
		return nil, nil, err
	}
	w.Close()
	w, err = armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, nil, err
	}
	if err := e.Serialize(w); err != nil {
		return nil, nil, err
	}
	w.Close()
	return sec.Bytes(), pub.Bytes(), nil
}

// ErrNoKey says a release was asked for without a signing key.
var ErrNoKey = errors.New("no signing key: set MATHESAR_SIGNING_KEY to an armored OpenPGP secret key file")
