package platform

import (
	"fmt"
	"strings"
)

// Dep is one required dependency of a block constructor: its name as the
// wiring knows it and whether the caller left it out.
type Dep struct {
	Name    string
	Missing bool
}

// Required returns an error naming every missing dependency of block, or
// nil when all are present. Block constructors call it first, so a wiring
// mistake fails at start-up with a message naming what is missing instead
// of a nil dereference on the first request that needs it.
func Required(block string, deps ...Dep) error {
	var missing []string
	for _, d := range deps {
		if d.Missing {
			missing = append(missing, d.Name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%s: missing required dependency: %s", block, strings.Join(missing, ", "))
}
