package web

import "net/url"

// SurveyURL is the address of the satisfaction survey (the satisfaction
// block) after an end of a transaction: after is submitted, decided,
// paid, reported, ineligible or withdrawn ("" for the survey a new
// service's beta banner links to), service the published service's slug.
// The address is a contract other pages and agencies' systems rely on.
func SurveyURL(after, service string) string {
	q := url.Values{"service": {service}}
	if after != "" {
		q.Set("after", after)
	}
	return "/satisfaction?" + q.Encode()
}

// SurveyPanel is the small "How was it?" panel that the "satisfaction_panel"
// template of the layout shows on a page at an end of a transaction.
type SurveyPanel struct {
	URL, Title, Body, Link string
}

// SurveyPanel returns the panel inviting the person to the survey about
// service after an end point; "satisfaction_panel" shows nothing for an
// empty service.
func (p *Page) SurveyPanel(after, service string) SurveyPanel {
	if service == "" {
		return SurveyPanel{}
	}
	return SurveyPanel{URL: SurveyURL(after, service), Title: p.T("satisfaction.panel.title"), Body: p.T("satisfaction.panel.body"), Link: p.T("satisfaction.panel.link")}
}
