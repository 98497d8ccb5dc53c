package mathesarfixture

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// enPO is the catalog the sample app already ships; Generate appends to it.
const enPO = "translations/en/LC_MESSAGES/django.po"

// poMessages is how many messages each catalog gets (the sample's own come on top in en).
const poMessages = 800

// language describes one catalog: its header values and how many msgstr forms a plural has.
type language struct {
	code, name, pluralForms string
	nplurals                int
}

var languages = []language{
	{"en", "English", "nplurals=2; plural=(n != 1);", 2},
	{"es", "Spanish", "nplurals=2; plural=(n != 1);", 2},
	{"fr", "French", "nplurals=2; plural=(n > 1);", 2},
	{"ja", "Japanese", "nplurals=1; plural=0;", 1},
}

// lexeme is a noun in every language: en, es, fr singular and plural, then ja (no plural).
type lexeme struct{ en, enPl, es, esPl, fr, frPl, ja string }

var lexicon = []lexeme{
	{"table", "tables", "tabla", "tablas", "table", "tables", "テーブル"},
	{"column", "columns", "columna", "columnas", "colonne", "colonnes", "列"},
	{"record", "records", "registro", "registros", "enregistrement", "enregistrements", "レコード"},
	{"schema", "schemas", "esquema", "esquemas", "schéma", "schémas", "スキーマ"},
	{"database", "databases", "base de datos", "bases de datos", "base de données", "bases de données", "データベース"},
	{"exploration", "explorations", "exploración", "exploraciones", "exploration", "explorations", "探索"},
	{"user", "users", "usuario", "usuarios", "utilisateur", "utilisateurs", "ユーザー"},
	{"role", "roles", "rol", "roles", "rôle", "rôles", "ロール"},
	{"constraint", "constraints", "restricción", "restricciones", "contrainte", "contraintes", "制約"},
	{"filter", "filters", "filtro", "filtros", "filtre", "filtres", "フィルター"},
	{"form", "forms", "formulario", "formularios", "formulaire", "formulaires", "フォーム"},
	{"collaborator", "collaborators", "colaborador", "colaboradores", "collaborateur", "collaborateurs", "共同作業者"},
	{"connection", "connections", "conexión", "conexiones", "connexion", "connexions", "接続"},
	{"file", "files", "archivo", "archivos", "fichier", "fichiers", "ファイル"},
	{"link", "links", "enlace", "enlaces", "lien", "liens", "リンク"},
	{"view", "views", "vista", "vistas", "vue", "vues", "ビュー"},
	{"index", "indexes", "índice", "índices", "index", "index", "インデックス"},
	{"sequence", "sequences", "secuencia", "secuencias", "séquence", "séquences", "シーケンス"},
	{"permission", "permissions", "permiso", "permisos", "autorisation", "autorisations", "権限"},
	{"summary", "summaries", "resumen", "resúmenes", "résumé", "résumés", "集計"},
	{"group", "groups", "grupo", "grupos", "groupe", "groupes", "グループ"},
	{"sort", "sorts", "ordenación", "ordenaciones", "tri", "tris", "並べ替え"},
	{"value", "values", "valor", "valores", "valeur", "valeurs", "値"},
	{"type", "types", "tipo", "tipos", "type", "types", "型"},
	{"owner", "owners", "propietario", "propietarios", "propriétaire", "propriétaires", "所有者"},
	{"privilege", "privileges", "privilegio", "privilegios", "privilège", "privilèges", "特権"},
	{"import", "imports", "importación", "importaciones", "importation", "importations", "インポート"},
	{"export", "exports", "exportación", "exportaciones", "exportation", "exportations", "エクスポート"},
	{"cell", "cells", "celda", "celdas", "cellule", "cellules", "セル"},
	{"row", "rows", "fila", "filas", "ligne", "lignes", "行"},
	{"field", "fields", "campo", "campos", "champ", "champs", "フィールド"},
	{"setting", "settings", "ajuste", "ajustes", "paramètre", "paramètres", "設定"},
}

// phrase is a message template per language. In the templates {n} is the singular noun,
// {N} the singular capitalised, {p} the plural. Plural phrases have two English forms and,
// per language, one msgstr form per plural category (ja has one).
type phrase struct {
	en, enPl   string
	es, fr, ja []string
}

func one(en, es, fr, ja string) phrase {
	return phrase{en: en, es: []string{es}, fr: []string{fr}, ja: []string{ja}}
}

var phrases = []phrase{
	one("Delete {n}", "Eliminar {n}", "Supprimer {n}", "{n}を削除"),
	one("Add {n}", "Añadir {n}", "Ajouter {n}", "{n}を追加"),
	one("Rename {n}", "Renombrar {n}", "Renommer {n}", "{n}の名前を変更"),
	one("Edit {n}", "Editar {n}", "Modifier {n}", "{n}を編集"),
	one("Create {n}", "Crear {n}", "Créer {n}", "{n}を作成"),
	one("{N} name", "Nombre de {n}", "Nom de {n}", "{n}名"),
	one("{N} properties", "Propiedades de {n}", "Propriétés de {n}", "{n}のプロパティ"),
	one("List of {p}", "Lista de {p}", "Liste des {p}", "{n}の一覧"),
	one("No {p} found", "No se encontraron {p}", "Aucun élément trouvé : {p}", "{n}が見つかりません"),
	one("Select {n}", "Seleccionar {n}", "Sélectionner {n}", "{n}を選択"),
	one("Search {p}", "Buscar {p}", "Rechercher des {p}", "{n}を検索"),
	one("Remove {n}", "Quitar {n}", "Retirer {n}", "{n}を外す"),
	one("Copy {n}", "Copiar {n}", "Copier {n}", "{n}をコピー"),
	one("Move {n}", "Mover {n}", "Déplacer {n}", "{n}を移動"),
	one("{N} details", "Detalles de {n}", "Détails de {n}", "{n}の詳細"),
	one("{N} description", "Descripción de {n}", "Description de {n}", "{n}の説明"),
	one("Unable to load {p}.", "No se pudieron cargar {p}.", "Impossible de charger les {p}.", "{n}を読み込めませんでした。"),
	one("Unable to save {n}.", "No se pudo guardar {n}.", "Impossible d'enregistrer {n}.", "{n}を保存できませんでした。"),
	one("Manage {p}", "Gestionar {p}", "Gérer les {p}", "{n}を管理"),
	one("Configure {n}", "Configurar {n}", "Configurer {n}", "{n}を設定する"),
	one("Hide {p}", "Ocultar {p}", "Masquer les {p}", "{n}を非表示"),
	one("Show {p}", "Mostrar {p}", "Afficher les {p}", "{n}を表示"),
	one("Refresh {p}", "Actualizar {p}", "Actualiser les {p}", "{n}を更新"),
	one("Open {n}", "Abrir {n}", "Ouvrir {n}", "{n}を開く"),
	one("{N} permissions", "Permisos de {n}", "Autorisations de {n}", "{n}の権限"),
	one("Delete {n} %(name)s?", "¿Eliminar {n} %(name)s?", "Supprimer {n} %(name)s ?", "{n} %(name)s を削除しますか?"),
	one("The {n} %(name)s has been renamed to %(new_name)s.", "{N} %(name)s se ha renombrado a %(new_name)s.", "{N} %(name)s a été renommé en %(new_name)s.", "{n} %(name)s の名前を %(new_name)s に変更しました。"),
	one("Unable to find {n} with id %(id)s.", "No se encontró {n} con id %(id)s.", "Impossible de trouver {n} avec l'id %(id)s.", "ID %(id)s の{n}が見つかりません。"),
	one("%(user)s changed the {n} %(name)s.", "%(user)s cambió {n} %(name)s.", "%(user)s a modifié {n} %(name)s.", "%(user)s が{n} %(name)s を変更しました。"),
	one("{N} %(name)s already exists in %(schema)s.", "{N} %(name)s ya existe en %(schema)s.", "{N} %(name)s existe déjà dans %(schema)s.", "{n} %(name)s は %(schema)s に既に存在します。"),
	{en: "%(count)s {n}", enPl: "%(count)s {p}",
		es: []string{"%(count)s {n}", "%(count)s {p}"}, fr: []string{"%(count)s {n}", "%(count)s {p}"}, ja: []string{"%(count)s 件の{n}"}},
	{en: "Delete %(count)s {n}?", enPl: "Delete %(count)s {p}?",
		es: []string{"¿Eliminar %(count)s {n}?", "¿Eliminar %(count)s {p}?"}, fr: []string{"Supprimer %(count)s {n} ?", "Supprimer %(count)s {p} ?"}, ja: []string{"%(count)s 件の{n}を削除しますか?"}},
	{en: "%(count)s {n} selected", enPl: "%(count)s {p} selected",
		es: []string{"%(count)s {n} seleccionado", "%(count)s {p} seleccionados"}, fr: []string{"%(count)s {n} sélectionné", "%(count)s {p} sélectionnés"}, ja: []string{"%(count)s 件の{n}を選択中"}},
}

// message is one catalog entry, translated into every language.
type message struct {
	ref, flag     string
	msgid, plural string
	str           map[string][]string // language code -> msgstr forms
}

func fill(tmpl, sg, pl string) string {
	r := strings.NewReplacer("{n}", sg, "{N}", upperFirst(sg), "{p}", pl)
	return r.Replace(tmpl)
}

func upperFirst(s string) string {
	c, size := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(c)) + s[size:]
}

// catalog builds the messages shared by every language, skipping msgids in skip.
func catalog(skip map[string]bool) []message {
	r := rng("translations")
	var all []message
	for _, lx := range lexicon {
		for _, ph := range phrases {
			m := message{msgid: fill(ph.en, lx.en, lx.enPl), str: map[string][]string{}}
			if strings.Contains(ph.en, "%(") {
				m.flag = "python-format"
			}
			if ph.enPl != "" {
				m.plural = fill(ph.enPl, lx.en, lx.enPl)
				m.str["en"] = []string{m.msgid, m.plural}
			} else {
				m.str["en"] = []string{m.msgid}
			}
			for _, f := range ph.es {
				m.str["es"] = append(m.str["es"], fill(f, lx.es, lx.esPl))
			}
			for _, f := range ph.fr {
				m.str["fr"] = append(m.str["fr"], fill(f, lx.fr, lx.frPl))
			}
			for _, f := range ph.ja {
				m.str["ja"] = append(m.str["ja"], fill(f, lx.ja, lx.ja))
			}
			all = append(all, m)
		}
	}
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	var out []message
	for _, m := range all {
		if len(out) == poMessages {
			break
		}
		if skip[m.msgid] {
			continue
		}
		m.ref = fmt.Sprintf("mathesar/templates/%s:%d", pick(r, templateNames), 1+r.IntN(120))
		out = append(out, m)
	}
	return out
}

// genTranslations writes the es, fr and ja catalogs and returns what to append to the
// sample's en catalog (existing); with no existing catalog it writes a whole en file.
func genTranslations(t *tree, version string, existing []byte) (string, error) {
	skip := map[string]bool{}
	for _, id := range poMsgids(string(existing)) {
		skip[id] = true
	}
	msgs := catalog(skip)
	r := rng("translations-untranslated")
	var appendEN string
	for _, lang := range languages {
		var b strings.Builder
		if lang.code != "en" || len(existing) == 0 {
			b.WriteString(poHeader(lang, version))
		} else if !strings.HasSuffix(string(existing), "\n\n") {
			b.WriteString("\n")
			if !strings.HasSuffix(string(existing), "\n") {
				b.WriteString("\n")
			}
		}
		for i, m := range msgs {
			if i > 0 {
				b.WriteString("\n")
			}
			forms := m.str[lang.code]
			// Real catalogs lag behind the source: leave some non-English entries untranslated.
			if lang.code != "en" && r.IntN(25) == 0 {
				forms = make([]string, len(forms))
			}
			writeEntry(&b, m, lang, forms)
		}
		p := "translations/" + lang.code + "/LC_MESSAGES/django.po"
		if lang.code == "en" && len(existing) > 0 {
			appendEN = b.String()
			continue
		}
		t.addString(p, b.String())
	}
	return appendEN, nil
}

func poHeader(lang language, version string) string {
	return fmt.Sprintf(`# %s translations of Mathesar.
# Copyright (C) 2024 Mathesar Foundation
# This file is distributed under the same license as the Mathesar package.
#
msgid ""
msgstr ""
"Project-Id-Version: Mathesar %s\n"
"Report-Msgid-Bugs-To: \n"
"POT-Creation-Date: 2025-01-15 10:00+0000\n"
"PO-Revision-Date: 2025-01-20 12:00+0000\n"
"Last-Translator: Mathesar translators\n"
"Language-Team: %s\n"
"Language: %s\n"
"MIME-Version: 1.0\n"
"Content-Type: text/plain; charset=UTF-8\n"
"Content-Transfer-Encoding: 8bit\n"
"Plural-Forms: %s\n"

`, lang.name, version, lang.name, lang.code, lang.pluralForms)
}

func writeEntry(b *strings.Builder, m message, lang language, forms []string) {
	fmt.Fprintf(b, "#: %s\n", m.ref)
	if m.flag != "" {
		fmt.Fprintf(b, "#, %s\n", m.flag)
	}
	fmt.Fprintf(b, "msgid %s\n", poQuote(m.msgid))
	if m.plural == "" {
		fmt.Fprintf(b, "msgstr %s\n", poQuote(forms[0]))
		return
	}
	fmt.Fprintf(b, "msgid_plural %s\n", poQuote(m.plural))
	for i := 0; i < lang.nplurals; i++ {
		s := ""
		if i < len(forms) {
			s = forms[i]
		}
		fmt.Fprintf(b, "msgstr[%d] %s\n", i, poQuote(s))
	}
}

// poQuote writes s as a PO string literal (C escapes for backslash, quote and newline).
func poQuote(s string) string { return `"` + poEscaper.Replace(s) + `"` }

var poEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)

// poMsgids returns the msgids of a PO file, joining continued strings, so appended entries
// never repeat one (msgfmt rejects duplicate definitions).
func poMsgids(po string) []string {
	var ids []string
	var cur *strings.Builder
	for _, line := range strings.Split(po, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "msgid "):
			cur = &strings.Builder{}
			cur.WriteString(poUnquote(strings.TrimPrefix(line, "msgid ")))
		case strings.HasPrefix(line, `"`) && cur != nil:
			cur.WriteString(poUnquote(line))
		default:
			if cur != nil {
				ids = append(ids, cur.String())
				cur = nil
			}
		}
	}
	if cur != nil {
		ids = append(ids, cur.String())
	}
	return ids
}

func poUnquote(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, `"`)
	s = strings.TrimSuffix(s, `"`)
	r := strings.NewReplacer(`\\`, `\`, `\"`, `"`, `\n`, "\n", `\t`, "\t")
	return r.Replace(s)
}
