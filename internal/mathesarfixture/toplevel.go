package mathesarfixture

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// docsPages is how many Markdown pages go under docs/docs/.
const docsPages = 40

var docSections = []string{"administration", "api", "installation", "releases", "user-guide"}

// genTopLevel writes the repository's top-level files. LICENSE comes from the sample app and
// is left alone.
func genTopLevel(t *tree, version string) {
	r := rng("top-level")
	t.addString("README.md", fmt.Sprintf("# Mathesar (fixture %s)\n\n%s\n\n## Installation\n\n%s\n\n## License\n\nMathesar is open source under the GPLv3 license - see [LICENSE](LICENSE). Third-party\nnotices are in [THIRDPARTY](THIRDPARTY) and [LICENSES/](LICENSES).\n",
		version, wrap(paragraph(r, 4), 90, ""), wrap(paragraph(r, 3), 90, "")))
	t.addString(".gitignore", "__pycache__/\n*.pyc\n.env\n.media/\n.secrets/\nstatic/\nmathesar/static/mathesar/\nmathesar_ui/node_modules/\ntranslations/*/LC_MESSAGES/*.mo\n")

	licenses := map[string]string{
		"LICENSES/Apache-2.0.txt":   "Apache License\nVersion 2.0, January 2004\nhttp://www.apache.org/licenses/\n",
		"LICENSES/BSD-3-Clause.txt": "BSD 3-Clause License\n\nRedistribution and use in source and binary forms, with or without modification, are\npermitted provided that the conditions of the license are met.\n",
		"LICENSES/MIT.txt":          "MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy of this\nsoftware, to deal in the Software without restriction.\n",
		"LICENSES/OFL-1.1.txt":      "SIL OPEN FONT LICENSE Version 1.1 - 26 February 2007\n\nThe fonts under mathesar_ui/src/assets/fonts are distributed under this license.\n",
	}
	// Sorted, because the random prose depends on the order.
	for _, p := range slices.Sorted(maps.Keys(licenses)) {
		t.addString(p, licenses[p]+"\n"+wrap(paragraph(r, 12), 78, "")+"\n")
	}

	var third strings.Builder
	third.WriteString("Mathesar includes third-party software under the licenses in LICENSES/.\n\n")
	for _, dep := range []string{"Django 4.2.29 (BSD-3-Clause)", "gunicorn 23.0.0 (MIT)", "psycopg 3.2.10 (LGPL-3.0)", "SQLAlchemy 1.4.54 (MIT)", "whitenoise 6.7.0 (MIT)", "Inter font (OFL-1.1)", "JetBrains Mono (OFL-1.1)", "Noto Sans JP (OFL-1.1)"} {
		fmt.Fprintf(&third, "- %s\n", dep)
	}
	t.addString("THIRDPARTY", third.String())

	t.addString("docs/mkdocs.yml", "site_name: Mathesar Documentation\ndocs_dir: docs\ntheme:\n  name: material\nplugins:\n  - search\n")
	names := uniqueNames(r, docsPages, nil, func() string { return kebab(ident(r, verbs, nouns)) })
	for i, name := range names {
		sec := docSections[i%len(docSections)]
		var b strings.Builder
		fmt.Fprintf(&b, "# %s\n\n", title(strings.ReplaceAll(name, "-", " ")))
		target := drawSize(r, 500, 12000)
		for b.Len() < target {
			fmt.Fprintf(&b, "## %s\n\n%s\n\n", title(ident(r, adjectives))+" "+pick(r, nouns), wrap(paragraph(r, 3+r.IntN(4)), 100, ""))
			if r.IntN(3) == 0 {
				fmt.Fprintf(&b, "```bash\nmathesar %s --%s\n```\n\n", pick(r, verbs), kebab(ident(r, adjectives, nouns)))
			}
		}
		t.addString("docs/docs/"+sec+"/"+name+".md", b.String())
	}

	workflows := map[string]string{
		"test.yml":      "run: |\n          pip install -r requirements.txt\n          pytest mathesar db",
		"lint.yml":      "run: flake8 mathesar db config",
		"build-ui.yml":  "run: |\n          cd mathesar_ui\n          npm ci\n          npm run build",
		"translate.yml": "run: python manage.py compilemessages",
	}
	for name, step := range workflows {
		t.addString(".github/workflows/"+name, fmt.Sprintf("name: %s\n\non:\n  push:\n    branches: [develop]\n  pull_request:\n\njobs:\n  main:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - name: %s\n        %s\n",
			strings.TrimSuffix(name, ".yml"), strings.TrimSuffix(name, ".yml"), step))
	}
}
