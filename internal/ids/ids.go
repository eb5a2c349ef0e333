// Package ids validates the identifiers the shop's APIs take from outside, one
// function per kind, so every service accepts exactly the same ids.
package ids

import "github.com/google/uuid"

// Product says whether s is a product id: 1 to 40 ASCII letters, digits or
// dashes, not starting with a dash (SKU-00042).
func Product(s string) bool {
	if len(s) == 0 || len(s) > 40 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Category says whether s is a category name: 1 to 40 lower-case ASCII letters,
// digits or dashes, starting with a letter (home-garden).
func Category(s string) bool {
	if len(s) == 0 || len(s) > 40 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// UUID returns s in canonical form when it is a UUID (order, user, charge and
// shipment ids), and whether it is.
func UUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false // uuid.Parse also takes the braced and urn forms
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return "", false
	}
	return id.String(), true
}
