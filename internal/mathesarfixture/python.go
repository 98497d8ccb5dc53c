package mathesarfixture

import (
	"fmt"
	"math/rand/v2"
	"path"
	"strings"
)

// Python module kinds, chosen from the package path; each has its own imports and style.
const (
	kindUtil = iota
	kindModel
	kindAPI
	kindRPC
	kindView
	kindTest
	kindDB
)

// mathesarPackages are the subpackages generated under mathesar/. None may be a name the
// sample app uses (conf, db, install, migrate, migrations) or static/.
var mathesarPackages = []string{
	"analytics", "api", "api/serializers", "api/ui", "api/viewsets", "examples", "exports",
	"forms", "imports", "management", "management/commands", "middleware", "models",
	"permissions", "rpc", "rpc/collaborators", "rpc/columns", "rpc/constraints",
	"rpc/databases", "rpc/explorations", "rpc/forms", "rpc/records", "rpc/roles", "rpc/schemas",
	"rpc/tables", "state", "templatetags", "tests", "tests/api", "tests/imports",
	"tests/models", "tests/rpc", "tests/rpc/columns", "tests/rpc/records", "tests/rpc/tables",
	"tests/utils", "tests/views", "utils", "views", "views/installation",
}

// mathesarTopModules sit directly in mathesar/ next to the sample's own modules.
var mathesarTopModules = []string{"admin", "apps", "backends", "encryption", "errors", "signals", "urls"}

// mathesarPyFiles is how many .py files are generated under mathesar/ (the sample's own
// modules come on top).
const mathesarPyFiles = 660

func kindOf(pkg string) int {
	switch {
	case strings.Contains(pkg, "tests"):
		return kindTest
	case strings.HasPrefix(pkg, "db/"):
		return kindDB
	case strings.Contains(pkg, "models"):
		return kindModel
	case strings.Contains(pkg, "api"):
		return kindAPI
	case strings.Contains(pkg, "rpc"):
		return kindRPC
	case strings.Contains(pkg, "views"):
		return kindView
	}
	return kindUtil
}

func genMathesarPython(t *tree) {
	r := rng("mathesar-python")
	for _, m := range mathesarTopModules {
		t.addString("mathesar/"+m+".py", pyModule(r, kindUtil, drawSize(r, 200, 20000)))
	}
	modules := mathesarPyFiles - len(mathesarTopModules) - len(mathesarPackages)
	genPackages(t, r, "mathesar", mathesarPackages, modules)
}

// genPackages writes an __init__.py into each of pkgs under root and spreads n modules over them.
func genPackages(t *tree, r *rand.Rand, root string, pkgs []string, n int) {
	counts := spread(r, n, len(pkgs), 2)
	for i, pkg := range pkgs {
		dir := root + "/" + pkg
		kind := kindOf(dir)
		names := uniqueNames(r, counts[i], nil, func() string {
			if kind == kindTest {
				return "test_" + ident(r, nouns, []string{"api", "rpc", "utils", "views", "models", "functions"})
			}
			if r.IntN(3) == 0 {
				return ident(r, nouns)
			}
			return ident(r, nouns, []string{"utils", "base", "helpers", "types", "queries", "handlers", "errors", "functions"})
		})
		t.addString(dir+"/__init__.py", pyInit(r, names[0]))
		for _, name := range names {
			t.addString(path.Join(dir, name+".py"), pyModule(r, kind, drawSize(r, 200, 20000)))
		}
	}
}

// pyInit is an __init__.py: most are empty, as in Mathesar, some re-export or document.
func pyInit(r *rand.Rand, firstModule string) string {
	switch r.IntN(3) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("\"\"\"%s\"\"\"\n", sentence(r))
	}
	return fmt.Sprintf("\"\"\"%s\"\"\"\n\nfrom .%s import *  # noqa: F401,F403\n", sentence(r), firstModule)
}

var kindImports = map[int]string{
	kindUtil:  "import json\nimport logging\nimport re\nfrom collections import defaultdict\n",
	kindModel: "import logging\n\nfrom django.db import models\nfrom django.utils.translation import gettext_lazy as _\n",
	kindAPI:   "import logging\n\nfrom rest_framework import serializers, status, viewsets\nfrom rest_framework.response import Response\n",
	kindRPC:   "import logging\nfrom typing import Optional, TypedDict\n\nfrom modernrpc.auth.basic import http_basic_auth_login_required\nfrom modernrpc.core import REQUEST_KWARG, rpc_method\n",
	kindView:  "import logging\n\nfrom django.contrib.auth.decorators import login_required\nfrom django.shortcuts import redirect, render\n",
	kindTest:  "import logging\nfrom unittest.mock import patch\n\nimport pytest\n",
	kindDB:    "import json\nimport logging\n\nfrom sqlalchemy import MetaData, Table, select, text\n",
}

var classBases = map[int][]string{
	kindUtil:  {"Exception", "object", "dict"},
	kindModel: {"models.Model", "BaseModel"},
	kindAPI:   {"serializers.Serializer", "viewsets.ViewSet", "serializers.ModelSerializer"},
	kindRPC:   {"TypedDict"},
	kindView:  {"object"},
	kindTest:  {"object"},
	kindDB:    {"object", "Exception"},
}

// pyModule returns a syntactically valid Python module of about target bytes.
func pyModule(r *rand.Rand, kind, target int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\"\"\"\n%s\n\n%s\n\"\"\"\n\n", sentence(r), wrap(paragraph(r, 1+r.IntN(3)), 88, ""))
	b.WriteString(kindImports[kind])
	b.WriteString("\nlogger = logging.getLogger(__name__)\n")
	if kind == kindModel {
		b.WriteString("\n\nclass BaseModel(models.Model):\n    created_at = models.DateTimeField(auto_now_add=True)\n    updated_at = models.DateTimeField(auto_now=True)\n\n    class Meta:\n        abstract = True\n")
	}
	for b.Len() < target {
		b.WriteString("\n\n")
		switch {
		case kind == kindTest:
			pyTest(r, &b)
		case kind == kindRPC && r.IntN(2) == 0:
			pyRPC(r, &b)
		case r.IntN(3) == 0:
			pyClass(r, kind, &b)
		case r.IntN(6) == 0:
			pyConstant(r, &b)
		default:
			pyFunc(r, &b, "", nil)
		}
	}
	return b.String()
}

// wrap breaks text into lines of at most width characters, each prefixed with indent.
func wrap(text string, width int, indent string) string {
	var lines []string
	line := indent
	for _, w := range strings.Fields(text) {
		if len(line)+len(w)+1 > width && strings.TrimSpace(line) != "" {
			lines = append(lines, strings.TrimRight(line, " "))
			line = indent
		}
		line += w + " "
	}
	lines = append(lines, strings.TrimRight(line, " "))
	return strings.Join(lines, "\n")
}

func pyArgs(r *rand.Rand) []string {
	return uniqueNames(r, 1+r.IntN(3), nil, func() string { return ident(r, nouns, []string{"id", "name", "list", "info", "data"}) })
}

// pyFunc writes a function (a method when indent is non-empty and self is in args).
func pyFunc(r *rand.Rand, b *strings.Builder, indent string, lead []string) {
	name := ident(r, verbs, nouns)
	args := pyArgs(r)
	params := append(append([]string{}, lead...), args...)
	if r.IntN(3) == 0 {
		params = append(params, ident(r, adjectives)+"=None")
	}
	fmt.Fprintf(b, "%sdef %s(%s):\n", indent, name, strings.Join(params, ", "))
	fmt.Fprintf(b, "%s    \"\"\"%s\"\"\"\n", indent, sentence(r))
	pyBody(r, b, indent+"    ", args)
}

// pyBody writes a few statements over args and a return.
func pyBody(r *rand.Rand, b *strings.Builder, in string, args []string) {
	fmt.Fprintf(b, "%sresult = {}\n", in)
	for n := 1 + r.IntN(5); n > 0; n-- {
		a := pick(r, args)
		k := ident(r, nouns)
		switch r.IntN(6) {
		case 0:
			fmt.Fprintf(b, "%sif %s is None:\n%s    raise ValueError(\"%s\")\n", in, a, in, strings.TrimSuffix(sentence(r), "."))
		case 1:
			fmt.Fprintf(b, "%sfor item in %s or []:\n%s    if not item:\n%s        continue\n%s    result.setdefault(%q, []).append(item)\n", in, a, in, in, in, k)
		case 2:
			fmt.Fprintf(b, "%stry:\n%s    result[%q] = %s[%q]\n%sexcept (KeyError, TypeError) as exc:\n%s    logger.debug(\"no %s in %%s: %%s\", %s, exc)\n", in, in, k, a, ident(r, nouns), in, in, k, a)
		case 3:
			fmt.Fprintf(b, "%sresult[%q] = [x for x in (%s or []) if x is not None]\n", in, k, a)
		case 4:
			fmt.Fprintf(b, "%sresult[%q] = {\n%s    \"name\": str(%s),\n%s    \"count\": %d,\n%s    \"%s\": %s,\n%s}\n", in, k, in, a, in, r.IntN(1000), in, ident(r, adjectives), pick(r, []string{"True", "False", "None"}), in)
		default:
			fmt.Fprintf(b, "%slogger.info(\"%s %%s\", %s)\n", in, strings.TrimSuffix(sentence(r), "."), a)
		}
	}
	fmt.Fprintf(b, "%sreturn result\n", in)
}

func pyClass(r *rand.Rand, kind int, b *strings.Builder) {
	name := pascal(ident(r, adjectives, nouns))
	base := pick(r, classBases[kind])
	fmt.Fprintf(b, "class %s(%s):\n    \"\"\"%s\"\"\"\n\n", name, base, sentence(r))
	switch kind {
	case kindModel:
		for n := 1 + r.IntN(5); n > 0; n-- {
			fmt.Fprintf(b, "    %s = %s\n", ident(r, adjectives, nouns), pick(r, []string{
				"models.CharField(max_length=255)", "models.IntegerField(null=True)",
				"models.JSONField(default=dict)", "models.BooleanField(default=False)",
				"models.ForeignKey(\"Database\", on_delete=models.CASCADE)",
				"models.TextField(blank=True, verbose_name=_(\"description\"))",
			}))
		}
		b.WriteString("\n")
	case kindAPI:
		for n := 1 + r.IntN(4); n > 0; n-- {
			fmt.Fprintf(b, "    %s = serializers.%s\n", ident(r, nouns, []string{"id", "name", "count"}), pick(r, []string{"IntegerField()", "CharField(required=False)", "JSONField()", "BooleanField(default=True)"}))
		}
		b.WriteString("\n")
	}
	for n := 1 + r.IntN(3); n > 0; n-- {
		pyFunc(r, b, "    ", []string{"self"})
		if n > 1 {
			b.WriteString("\n")
		}
	}
}

func pyConstant(r *rand.Rand, b *strings.Builder) {
	fmt.Fprintf(b, "%s = {\n", strings.ToUpper(ident(r, adjectives, nouns))+"_MAP")
	for _, k := range uniqueNames(r, 2+r.IntN(6), nil, func() string { return ident(r, nouns) }) {
		fmt.Fprintf(b, "    %q: %q,\n", k, ident(r, verbs, nouns))
	}
	b.WriteString("}\n")
}

func pyRPC(r *rand.Rand, b *strings.Builder) {
	noun := pick(r, nouns)
	verb := pick(r, []string{"list", "get", "add", "patch", "delete", "search"})
	info := pascal(noun) + "Info" + pascal(pick(r, adjectives))
	fmt.Fprintf(b, "class %s(TypedDict):\n    \"\"\"%s\"\"\"\n\n", info, sentence(r))
	for _, f := range uniqueNames(r, 2+r.IntN(4), nil, func() string { return ident(r, nouns) }) {
		fmt.Fprintf(b, "    %s: %s\n", f, pick(r, []string{"int", "str", "bool", "Optional[str]", "list[int]", "dict"}))
	}
	fmt.Fprintf(b, "\n\n@rpc_method(name=\"%ss.%s\")\n@http_basic_auth_login_required\n", noun, verb)
	fmt.Fprintf(b, "def %s_%s(*, %s_oid: int, database_id: int, **kwargs) -> %s:\n", verb, ident(r, adjectives, nouns), noun, info)
	fmt.Fprintf(b, "    \"\"\"\n    %s\n\n    Args:\n        %s_oid: %s\n        database_id: %s\n\n    Returns:\n        %s\n    \"\"\"\n",
		sentence(r), noun, sentence(r), sentence(r), sentence(r))
	fmt.Fprintf(b, "    user = kwargs.get(REQUEST_KWARG).user\n    logger.debug(\"%s %%s for %%s\", %s_oid, user)\n", verb, noun)
	fmt.Fprintf(b, "    return %s(%s_oid=%s_oid, database_id=database_id)\n", info, noun, noun)
}

func pyTest(r *rand.Rand, b *strings.Builder) {
	name := "test_" + ident(r, verbs, adjectives, nouns)
	if r.IntN(3) == 0 {
		a, c := r.IntN(100), r.IntN(100)
		fmt.Fprintf(b, "@pytest.mark.parametrize(\"given,expected\", [(%d, %d), (%d, %d), (None, None)])\n", a, a, c, c)
		fmt.Fprintf(b, "def %s(given, expected):\n    \"\"\"%s\"\"\"\n    assert given == expected\n", name, sentence(r))
		return
	}
	arg := ident(r, nouns, []string{"id", "info"})
	fmt.Fprintf(b, "def %s(rf, monkeypatch):\n    \"\"\"%s\"\"\"\n", name, sentence(r))
	fmt.Fprintf(b, "    %s = {\"id\": %d, \"name\": %q}\n", arg, r.IntN(10000), ident(r, adjectives, nouns))
	fmt.Fprintf(b, "    with patch(\"mathesar.utils.%s\") as mocked:\n        mocked.return_value = %s\n", ident(r, verbs, nouns), arg)
	fmt.Fprintf(b, "        assert mocked()[\"id\"] == %s[\"id\"]\n", arg)
	fmt.Fprintf(b, "    assert %s[\"name\"]\n", arg)
}
