package pyreq

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// pyEvaluate evaluates markers with pip's vendored packaging, the code pip itself runs.
const pyEvaluate = `
import json, sys
from pip._vendor import packaging
from pip._vendor.packaging.markers import Marker
out = {"version": packaging.__version__, "results": []}
for c in json.load(sys.stdin):
    try:
        m = Marker(c["marker"])
    except Exception as e:
        out["results"].append({"parse_error": str(e)})
        continue
    if c["env"] is None:
        out["results"].append({})
        continue
    try:
        out["results"].append({"result": m.evaluate(c["env"])})
    except Exception as e:
        out["results"].append({"error": type(e).__name__ + ": " + str(e)})
json.dump(out, sys.stdout)
`

// TestMarkersAgreeWithPipPackaging evaluates the whole marker table with pip's packaging
// and the same environments, and checks the results match.
func TestMarkersAgreeWithPipPackaging(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skipf("python3 is not installed (%v); install python3-pip to cross-check markers against packaging", err)
	}
	type pyCase struct {
		Marker string `json:"marker"`
		Env    Env    `json:"env"`
	}
	in := make([]pyCase, len(markerCases))
	for i, c := range markerCases {
		in[i] = pyCase{c.marker, c.env}
	}
	input, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", "-c", pyEvaluate)
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	output, err := cmd.Output()
	if err != nil && strings.Contains(stderr.String(), "No module named 'pip") {
		t.Skipf("python3 has no pip (%s); install python3-pip to cross-check markers against packaging", strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		t.Fatalf("python3 marker evaluation: %v\n%s", err, stderr.String())
	}
	var res struct {
		Version string `json:"version"`
		Results []struct {
			ParseError *string `json:"parse_error"`
			Result     *bool   `json:"result"`
			Error      *string `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(output, &res); err != nil {
		t.Fatalf("decode python3 output %q: %v", output, err)
	}
	if len(res.Results) != len(markerCases) {
		t.Fatalf("python3 returned %d results for %d markers", len(res.Results), len(markerCases))
	}
	major, _ := strconv.Atoi(strings.Split(res.Version, ".")[0])
	t.Logf("pip's vendored packaging %s", res.Version)
	compared := 0
	for i, c := range markerCases {
		py := res.Results[i]
		switch {
		case c.py != "":
			t.Logf("skip %s: %s", c.name(), c.py)
			continue
		case c.pyNeeds22 && major < 22:
			t.Logf("skip %s: packaging %s predates PEP 685 extra normalisation", c.name(), res.Version)
			continue
		}
		m, err := ParseMarker(c.marker)
		if err != nil {
			if py.ParseError == nil {
				t.Errorf("%s: we reject it (%v) but packaging parses it", c.name(), err)
			}
			compared++
			continue
		}
		if py.ParseError != nil {
			t.Errorf("%s: we parse it but packaging rejects it: %s", c.name(), *py.ParseError)
			continue
		}
		got, err := m.Evaluate(c.env)
		if err != nil {
			// packaging fills variables missing from env with the build machine's values
			// and compares some non-versions as strings, so our errors have no counterpart.
			continue
		}
		compared++
		switch {
		case py.Error != nil:
			t.Errorf("%s: we get %v, packaging raises %s", c.name(), got, *py.Error)
		case py.Result == nil || *py.Result != got:
			t.Errorf("%s: we get %v, packaging gets %v", c.name(), got, py.Result != nil && *py.Result)
		}
	}
	if compared < len(markerCases)/2 {
		t.Errorf("only %d of %d markers were compared; the table has drifted from what packaging can check", compared, len(markerCases))
	}
}
