package platform

import "github.com/google/uuid"

// Ids of the wrong shape.
//
// Most objects are named by a UUID that Portico generated (sessions,
// messages, obligations, drafts, authorization requests). An id a client
// sends that is not one names nothing, so the code that reads it answers
// "not found" at once instead of asking the database: that keeps junk (and
// text a database would refuse) out of queries, and costs nothing.

// IsUUID reports whether s is a UUID in the canonical form Portico writes:
// 36 characters, lowercase hexadecimal, hyphenated.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}

// ParseUUID returns id when IsUUID(id), and otherwise a not-found error
// saying that no `what` has that id (the message a caller would give for an
// unknown id).
func ParseUUID(what, id string) (string, error) {
	if !IsUUID(id) {
		return "", Errorf(CodeNotFound, "There is no %s with that id.", what)
	}
	return id, nil
}
