package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportServiceCLI: `portico report service create|list|update|disable`
// as an agency's operator uses them: a service defined from YAML is listed,
// replaced and disabled; every mistake exits non-zero with a message that
// says what to fix.
func TestReportServiceCLI(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"PORTICO_DATA": dir}
	for _, args := range [][]string{
		{"migrate"},
		{"jurisdiction", "create", "--id", "ex", "--kind", "state", "--name", "State of Ex"},
		{"agency", "create", "--id", "ex-works", "--jurisdiction", "ex", "--name", "Ex Public Works"},
		{"agency", "create", "--id", "ex-parks", "--jurisdiction", "ex", "--name", "Ex Parks"},
	} {
		if code, out, errOut := cli(t, env, args...); code != exitOK {
			t.Fatalf("%v: %d\n%s\n%s", args, code, out, errOut)
		}
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := `code: pothole
slug: pothole
name: Pothole
name_es: Bache
description: A hole in the road.
description_es: Un hoyo en la calle.
keywords: [pothole, road, bache]
expected_days: 10
area: {south: 39.7, west: -89.75, north: 39.86, east: -89.55}
attributes:
  - code: SIZE
    datatype: singlevaluelist
    required: true
    description: How big is it?
    description_es: ¿Qué tan grande es?
    values:
      - {key: small, name: Small, name_es: Pequeño}
      - {key: large, name: Large, name_es: Grande}
`
	file := write("pothole.yaml", good)
	code, out, errOut := cli(t, env, "report", "service", "create", "--agency", "ex-works", "--file", file, "--json")
	var got struct {
		Code     string `json:"service_code"`
		Agency   string
		Keywords []string
		Area     struct{ South, North float64 }
	}
	if err := json.Unmarshal([]byte(out), &got); code != exitOK || err != nil || got.Code != "pothole" || got.Agency != "ex-works" || len(got.Keywords) != 3 || got.Area.North != 39.86 {
		t.Fatalf("create: %d %v\n%s\n%s", code, err, out, errOut)
	}
	updated := write("pothole2.yaml", strings.Replace(good, "name: Pothole", "name: Pothole or sinkhole", 1))
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"report", "service", "list", "--agency", "ex-works"}, exitOK, "/report/pothole"},
		{[]string{"report", "service", "update", "--agency", "ex-works", "--file", updated}, exitOK, "Updated report-a-problem service pothole (Pothole or sinkhole)"},
		{[]string{"report", "service", "disable", "--agency", "ex-works", "--code", "pothole"}, exitOK, "takes no new reports"},
		{[]string{"report", "service", "list", "--agency", "ex-works"}, exitOK, "disabled"},
		{[]string{"report", "service", "update", "--agency", "ex-works", "--file", file}, exitOK, "Updated"},
		{[]string{"report", "service", "list", "--agency", "ex-works"}, exitOK, "taking reports"},
		{[]string{"report", "service", "list", "--agency", "ex-parks"}, exitOK, "has no report-a-problem services"},
		{[]string{"report", "service", "create", "--agency", "ex-works", "--file", file}, exitError, "already exists"},
		{[]string{"report", "service", "create", "--agency", "ex-parks", "--file", file}, exitError, "belongs to another agency"},
		{[]string{"report", "service", "update", "--agency", "ex-parks", "--file", write("other.yaml", strings.Replace(good, "code: pothole\nslug: pothole", "code: swings\nslug: swings", 1))}, exitError, "has no report-a-problem service swings"},
		{[]string{"report", "service", "disable", "--agency", "ex-parks", "--code", "pothole"}, exitError, "has no report-a-problem service pothole"},
		{[]string{"report", "service", "create", "--agency", "ex-works"}, exitUsage, "--agency and --file are required"},
		{[]string{"report", "service", "disable", "--agency", "ex-works"}, exitUsage, "--agency and --code are required"},
		{[]string{"report", "service", "list"}, exitUsage, "--agency is required"},
		{[]string{"report", "service", "create", "--agency", "atlantis", "--file", file}, exitError, `agency "atlantis" does not exist`},
		{[]string{"report", "service", "create", "--agency", "ex-works", "--file", filepath.Join(dir, "missing.yaml")}, exitError, "cannot read"},
		{[]string{"report", "service", "create", "--agency", "ex-works", "--file", write("unknown.yaml", good+"colour: red\n")}, exitError, "field colour not found"},
		{[]string{"report", "service", "create", "--agency", "ex-works", "--file", write("agency.yaml", "agency: ex-parks\n"+good)}, exitError, `the file says agency "ex-parks"`},
		{[]string{"report", "service", "create", "--agency", "ex-works", "--file", write("dt.yaml", strings.Replace(strings.Replace(good, "code: pothole\nslug: pothole", "code: p2\nslug: p2", 1), "datatype: singlevaluelist", "datatype: colour", 1))}, exitError, `datatype "colour" is not one of`},
		{[]string{"report", "service", "create", "--agency", "ex-works", "--file", write("area.yaml", strings.Replace(strings.Replace(good, "code: pothole\nslug: pothole", "code: p3\nslug: p3", 1), "north: 39.86", "north: 30", 1))}, exitError, "south must be less than north"},
		{[]string{"report", "service", "create", "--agency", "ex-works", "--file", write("es.yaml", strings.Replace(strings.Replace(good, "code: pothole\nslug: pothole", "code: p4\nslug: p4", 1), "name_es: Bache\n", "", 1))}, exitError, "needs a name in English and Spanish"},
		{[]string{"report", "service", "create", "--agency", "ex-works", "--file", write("slug.yaml", strings.Replace(good, "code: pothole", "code: p5", 1))}, exitError, "already has the slug pothole"},
	} {
		code, out, errOut := cli(t, env, c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.msg) {
			t.Errorf("%v: %d, want %d and %q\n%s\n%s", c.args, code, c.code, c.msg, out, errOut)
		}
	}
}
