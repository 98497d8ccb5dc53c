package pyreq

import "testing"

func FuzzParseRequirement(f *testing.F) {
	for _, c := range reqCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRequirement(s)
		if err != nil {
			return
		}
		r.Pin()
		r.Marker.Evaluate(linux312)
		out := r.String()
		again, err := ParseRequirement(out)
		if err != nil {
			t.Fatalf("%q parsed, but its String() %q does not: %v", s, out, err)
		}
		if again.String() != out {
			t.Fatalf("%q: String() %q re-parses to %q", s, out, again.String())
		}
	})
}

func FuzzParseMarker(f *testing.F) {
	for _, c := range markerCases {
		f.Add(c.marker)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMarker(s)
		if err != nil {
			return
		}
		m.Evaluate(darwin314.WithExtra("x"))
		m.Variables()
		out := m.String()
		again, err := ParseMarker(out)
		if err != nil {
			t.Fatalf("%q parsed, but its String() %q does not: %v", s, out, err)
		}
		if again.String() != out {
			t.Fatalf("%q: String() %q re-parses to %q", s, out, again.String())
		}
	})
}
