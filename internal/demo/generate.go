package demo

import (
	"fmt"
	"strings"
)

// Words for generated services, English and Spanish side by side, so a
// generated catalog has realistic overlaps (many services share a word,
// few share three).
var genWords = [][2]string{
	{"dog", "perro"}, {"license", "licencia"}, {"permit", "permiso"}, {"renewal", "renovación"},
	{"boat", "barco"}, {"parking", "estacionamiento"}, {"water", "agua"}, {"tree", "árbol"},
	{"business", "negocio"}, {"food", "comida"}, {"housing", "vivienda"}, {"vehicle", "vehículo"},
	{"tax", "impuesto"}, {"birth", "nacimiento"}, {"certificate", "certificado"}, {"garden", "jardín"},
	{"noise", "ruido"}, {"street", "calle"}, {"library", "biblioteca"}, {"school", "escuela"},
	{"fishing", "pesca"}, {"hunting", "caza"}, {"marriage", "matrimonio"}, {"property", "propiedad"},
	{"inspection", "inspección"}, {"repair", "reparación"}, {"event", "evento"}, {"market", "mercado"},
	{"bicycle", "bicicleta"}, {"park", "parque"}, {"senior", "mayor"}, {"child", "niño"},
}

var genCategories = []string{"animals", "business", "family", "housing", "outdoors", "permits", "streets", "taxes", "transport", "utilities"}

// genAgencies are demo agencies with the jurisdiction each may offer in.
var genAgencies = [][2]string{
	{"dmv", "example"}, {"revenue", "example"}, {"fish-wildlife", "example"},
	{"adams-clerk", "adams-county"}, {"baker-clerk", "baker-county"}, {"clark-clerk", "clark-county"},
	{"springfield-licensing", "springfield"}, {"lakeside-public-works", "lakeside"},
}

// GeneratedService returns a valid manifest for generated service n (from
// 0), for benchmarks and tests that need a large catalog over the demo
// jurisdiction. The same n always gives the same manifest. It returns the
// manifest and its agency.
func GeneratedService(n int) (src []byte, agency string) {
	w := func(k int) [2]string { return genWords[k%len(genWords)] }
	a, b, c := w(n), w(n/len(genWords)+3), w(n/7+11)
	ag := genAgencies[n%len(genAgencies)]
	cat := genCategories[(n/3)%len(genCategories)]
	var y strings.Builder
	fmt.Fprintf(&y, "id: gen-%05d\nversion: 1\nagency: %s\njurisdictions: [%s]\n", n, ag[0], ag[1])
	fmt.Fprintf(&y, "title: {en: %q, es: %q}\n", fmt.Sprintf("%s %s service %d", title(a[0]), b[0], n), fmt.Sprintf("Servicio de %s %s %d", a[1], b[1], n))
	fmt.Fprintf(&y, "summary: {en: %q, es: %q}\n",
		fmt.Sprintf("Apply for a %s %s from the %s office.", b[0], c[0], a[0]),
		fmt.Sprintf("Solicite un %s de %s en la oficina de %s.", b[1], c[1], a[1]))
	fmt.Fprintf(&y, "category: %s\nkeywords: {en: [%s, %s], es: [%q, %q]}\n", cat, c[0], a[0], c[1], a[1])
	y.WriteString(`kind: apply
maturity: live
pages: []
workflow:
  initial: submitted
  states:
    submitted: {title: {en: Submitted, es: Enviada}, sla: 5d}
    done: {title: {en: Done, es: Terminada}, terminal: true}
  transitions:
    - {id: finish, from: submitted, to: done, by: [caseworker], label: {en: Finish, es: Terminar}}
`)
	return []byte(y.String()), ag[0]
}

func title(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
