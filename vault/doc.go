// Package vault keeps recruiters' Microsoft connections and their OAuth
// tokens, sealed with AES-256-GCM by a keyring of versioned keys. Every
// ciphertext carries a format version and the id of the key that sealed it,
// and its associated data binds it to one row and one token kind.
package vault
