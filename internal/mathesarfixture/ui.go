package mathesarfixture

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path"
	"strings"
)

// buildScript is mathesar_ui/build.mjs, kept as a real file so it can be read and linted.
//
//go:embed uitemplate/build.mjs
var buildScript string

// uiGroup is a directory of generated front-end sources.
type uiGroup struct {
	dir   string
	ext   string // .svelte, .ts or .css
	count int
}

var uiGroups = []uiGroup{
	{"src/components", ".svelte", 250},
	{"src/pages", ".svelte", 40},
	{"src/systems", ".svelte", 70},
	{"src/systems", ".ts", 50},
	{"src/stores", ".ts", 30},
	{"src/api/rpc", ".ts", 35},
	{"src/utils", ".ts", 45},
	{"src/styles", ".css", 14},
}

// Subdirectories the .svelte and .ts files of a group are spread over.
var uiSubdirs = []string{
	"button", "cell", "dropdown", "form", "icon", "input", "modal", "sheet", "table-view",
	"toast", "tooltip", "tabs", "menu", "layout", "badge", "record-selector", "data-explorer",
	"permissions", "schema", "database",
}

var fontNames = []string{
	"inter-regular", "inter-medium", "inter-semibold", "inter-bold", "inter-italic",
	"jetbrains-mono-regular", "jetbrains-mono-bold", "noto-sans-jp-regular", "noto-sans-jp-bold",
	"inter-light",
}

const (
	uiPNGs = 18
	uiSVGs = 12
)

func genUI(t *tree) {
	r := rng("mathesar-ui")
	const ui = "mathesar_ui/"
	t.addString(ui+"package.json", `{
  "name": "mathesar-ui",
  "version": "0.0.0",
  "private": true,
  "type": "module",
  "scripts": {
    "build": "node build.mjs"
  }
}
`)
	t.addString(ui+"package-lock.json", `{
  "name": "mathesar-ui",
  "version": "0.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {
      "name": "mathesar-ui",
      "version": "0.0.0"
    }
  }
}
`)
	t.addString(ui+"build.mjs", buildScript)
	t.addString(ui+"tsconfig.json", "{\n  \"compilerOptions\": {\n    \"target\": \"ES2022\",\n    \"module\": \"ESNext\",\n    \"strict\": true,\n    \"paths\": { \"@mathesar/*\": [\"./src/*\"] }\n  },\n  \"include\": [\"src/**/*.ts\", \"src/**/*.svelte\"]\n}\n")
	t.addString(ui+"README.md", "# Mathesar UI\n\nThe front end of Mathesar (fixture). `npm ci && npm run build` writes the bundle and a\nVite-style `manifest.json` into `../mathesar/static/mathesar/`, where Django's\n`collectstatic` finds them.\n\nThe build has no dependencies and needs no network.\n")

	t.addString(ui+"src/main.ts", "import App from './App.svelte';\nimport './styles/fonts.css';\n\nconst app = new App({ target: document.body });\n\nexport default app;\n")
	t.addString(ui+"src/App.svelte", svelteFile(r, "App", 3000))
	t.addString(ui+"src/i18n/index.ts", tsFile(r, 2000))
	t.addString(ui+"src/styles/fonts.css", fontsCSS())
	for _, lang := range languages {
		t.add(ui+"src/i18n/languages/"+lang.code+"/dict.json", uiDict(lang.code))
	}

	for _, g := range uiGroups {
		taken := map[string]bool{}
		for i := 0; i < g.count; i++ {
			var name string
			if g.ext == ".svelte" {
				name = uniqueNames(r, 1, taken, func() string {
					return pascal(ident(r, adjectives, nouns)) + pick(r, []string{"", "Editor", "Cell", "Input", "Dropdown", "Row", "Page", "Modal", "List"})
				})[0]
			} else {
				name = uniqueNames(r, 1, taken, func() string { return camel(ident(r, nouns, []string{"utils", "store", "types", "api", "helpers"})) })[0]
			}
			dir := g.dir
			if g.ext != ".css" && g.dir != "src/stores" && g.dir != "src/api/rpc" {
				dir += "/" + pick(r, uiSubdirs)
			}
			size := drawSize(r, 300, 12000)
			var data string
			switch g.ext {
			case ".svelte":
				data = svelteFile(r, name, size)
			case ".ts":
				data = tsFile(r, size)
			case ".css":
				data = cssFile(r, size)
			}
			t.addString(ui+path.Join(dir, name+g.ext), data)
		}
	}

	for _, f := range fontNames {
		// WOFF2 signature, then incompressible bytes standing in for the font tables.
		t.add(ui+"src/assets/fonts/"+f+".woff2", append([]byte("wOF2\x00\x01\x00\x00"), randomBytes(r, 40000+r.IntN(120000))...))
	}
	for _, name := range uniqueNames(r, uiPNGs, nil, func() string { return strings.ReplaceAll(ident(r, adjectives, nouns), "_", "-") }) {
		png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), randomBytes(r, 10000+r.IntN(290000))...)
		t.add(ui+"src/assets/images/"+name+".png", png)
	}
	for _, name := range uniqueNames(r, uiSVGs, nil, func() string { return strings.ReplaceAll(ident(r, verbs, nouns), "_", "-") }) {
		t.addString(ui+"src/assets/icons/"+name+".svg", svgFile(r))
	}
}

func camel(snake string) string {
	p := pascal(snake)
	return strings.ToLower(p[:1]) + p[1:]
}

func kebab(s string) string { return strings.ReplaceAll(s, "_", "-") }

func svelteFile(r *rand.Rand, name string, target int) string {
	var b strings.Builder
	b.WriteString("<script lang=\"ts\">\n  import { _ } from 'svelte-i18n';\n\n")
	fmt.Fprintf(&b, "  import type { %s } from '@mathesar/api/rpc/%s';\n", pascal(pick(r, nouns)), pick(r, nouns))
	props := uniqueNames(r, 1+r.IntN(4), nil, func() string { return camel(ident(r, adjectives, nouns)) })
	for _, p := range props {
		fmt.Fprintf(&b, "  export let %s: %s | undefined = undefined;\n", p, pick(r, []string{"string", "number", "boolean"}))
	}
	handler := "handle" + pascal(ident(r, verbs))
	fmt.Fprintf(&b, "\n  function %s(event: MouseEvent) {\n    event.preventDefault();\n    %s = undefined;\n  }\n</script>\n\n", handler, props[0])
	class := kebab(ident(r, adjectives, nouns))
	fmt.Fprintf(&b, "<div class=\"%s\" data-component=\"%s\">\n", class, name)
	var classes []string
	for b.Len() < target*3/4 {
		c := kebab(ident(r, nouns, []string{"header", "body", "footer", "label", "actions"}))
		classes = append(classes, c)
		fmt.Fprintf(&b, "  {#if %s}\n    <section class=\"%s\">\n      <h3>{$_('%s')}</h3>\n      <p>%s</p>\n      <button type=\"button\" on:click={%s}>{$_('%s')}</button>\n    </section>\n  {/if}\n",
			pick(r, props), c, ident(r, verbs, nouns), sentence(r), handler, ident(r, verbs, nouns))
	}
	b.WriteString("</div>\n\n<style>\n")
	fmt.Fprintf(&b, "  .%s {\n    display: flex;\n    flex-direction: column;\n    gap: var(--sm%d);\n  }\n", class, 1+r.IntN(4))
	for _, c := range classes {
		if b.Len() >= target {
			break
		}
		fmt.Fprintf(&b, "  .%s {\n    padding: %.1frem;\n    color: var(--color-%s);\n  }\n", c, float64(r.IntN(20))/4, pick(r, []string{"fg-base", "fg-muted", "bg-raised", "border"}))
	}
	b.WriteString("</style>\n")
	return b.String()
}

func tsFile(r *rand.Rand, target int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "import type { %s } from '@mathesar/api/rpc/%s';\nimport { get, writable } from 'svelte/store';\n", pascal(pick(r, nouns)), pick(r, nouns))
	for b.Len() < target {
		b.WriteString("\n")
		switch r.IntN(3) {
		case 0:
			fmt.Fprintf(&b, "export interface %s {\n", pascal(ident(r, adjectives, nouns)))
			for _, f := range uniqueNames(r, 2+r.IntN(5), nil, func() string { return camel(ident(r, nouns, []string{"id", "name", "count"})) }) {
				fmt.Fprintf(&b, "  %s: %s;\n", f, pick(r, []string{"string", "number", "boolean", "string[]", "number | null"}))
			}
			b.WriteString("}\n")
		case 1:
			fmt.Fprintf(&b, "export const %s = writable<%s>(%s);\n", camel(ident(r, adjectives, nouns)), pick(r, []string{"string", "number", "boolean"}), pick(r, []string{"''", "0", "false"}))
		default:
			arg := camel(ident(r, nouns, []string{"id", "list", "info"}))
			fmt.Fprintf(&b, "/**\n * %s\n */\nexport function %s(%s: unknown[]): number {\n", sentence(r), camel(ident(r, verbs, nouns)), arg)
			fmt.Fprintf(&b, "  const seen = new Set<unknown>();\n  for (const item of %s) {\n    if (item === undefined) continue;\n    seen.add(item);\n  }\n  return seen.size + %d;\n}\n", arg, r.IntN(10))
		}
	}
	return b.String()
}

func cssFile(r *rand.Rand, target int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "/* %s */\n", sentence(r))
	for b.Len() < target {
		fmt.Fprintf(&b, "\n.%s {\n  margin: %dpx;\n  border-radius: var(--border-radius-%s);\n  background: var(--color-%s);\n}\n",
			kebab(ident(r, adjectives, nouns)), r.IntN(32), pick(r, []string{"s", "m", "l"}), pick(r, []string{"bg-base", "bg-raised", "card"}))
	}
	return b.String()
}

func fontsCSS() string {
	var b strings.Builder
	for _, f := range fontNames {
		fmt.Fprintf(&b, "@font-face {\n  font-family: '%s';\n  src: url(\"../assets/fonts/%s.woff2\") format('woff2');\n  font-display: swap;\n}\n\n", f, f)
	}
	return b.String()
}

func svgFile(r *rand.Rand) string {
	var b strings.Builder
	b.WriteString("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 24 24\" fill=\"none\" stroke=\"currentColor\">\n")
	for n := 2 + r.IntN(8); n > 0; n-- {
		fmt.Fprintf(&b, "  <path d=\"M%d %dL%d %dZ\"/>\n", r.IntN(24), r.IntN(24), r.IntN(24), r.IntN(24))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// uiDict is a front-end translation dictionary, keys sorted by encoding/json.
func uiDict(code string) []byte {
	d := map[string]string{}
	for _, lx := range lexicon {
		for _, ph := range phrases[:8] {
			key := strings.ToLower(strings.NewReplacer(" ", "_", "{n}", lx.en, "{N}", lx.en, "{p}", lx.enPl, ".", "").Replace(ph.en))
			sg, pl, tmpl := lx.en, lx.enPl, ph.en
			switch code {
			case "es":
				sg, pl, tmpl = lx.es, lx.esPl, ph.es[0]
			case "fr":
				sg, pl, tmpl = lx.fr, lx.frPl, ph.fr[0]
			case "ja":
				sg, pl, tmpl = lx.ja, lx.ja, ph.ja[0]
			}
			d[key] = fill(tmpl, sg, pl)
		}
	}
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		// A map of strings always marshals.
		panic(err)
	}
	return append(out, '\n')
}
