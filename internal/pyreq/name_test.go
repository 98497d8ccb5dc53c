package pyreq

import "testing"

func TestNormalizeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Django", "django"},
		{"django-allauth", "django-allauth"},
		{"Django_Allauth", "django-allauth"},
		{"zope.interface", "zope-interface"},
		{"A--B__C..D", "a-b-c-d"},
		{"a-_.b", "a-b"},
		{"PyYAML", "pyyaml"},
		{"x", "x"},
	}
	for _, tt := range tests {
		if got := NormalizeName(tt.in); got != tt.want {
			t.Errorf("NormalizeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
