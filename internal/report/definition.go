package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/portico-gov/portico/internal/platform"
)

// MaxDefinitionBytes bounds a service definition file.
const MaxDefinitionBytes = 256 << 10

// ParseDefinition reads a report-a-problem service as an agency writes it
// in YAML (or JSON, which is YAML): the fields of ReportService by their
// yaml names. Unknown fields, a second document and a file over
// MaxDefinitionBytes are refused with the line at fault, as invalid input;
// the definition itself is checked by Define.
func ParseDefinition(src []byte) (ReportService, error) {
	if len(src) > MaxDefinitionBytes {
		return ReportService{}, platform.Invalid("file", fmt.Sprintf("the definition is larger than %d KiB", MaxDefinitionBytes>>10))
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	var d ReportService
	if err := dec.Decode(&d); err != nil {
		if errors.Is(err, io.EOF) {
			return ReportService{}, platform.Invalid("file", "the definition is empty")
		}
		return ReportService{}, platform.Invalid("file", "the definition could not be read: "+strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return ReportService{}, platform.Invalid("file", "the definition must be one YAML document")
	}
	for i := range d.Keywords {
		d.Keywords[i] = strings.TrimSpace(d.Keywords[i])
		if d.Keywords[i] == "" || strings.Contains(d.Keywords[i], ",") {
			return ReportService{}, platform.Invalid("keywords", "each keyword must be non-empty and without commas")
		}
	}
	return d, nil
}
