package application

// Prefilled returns the answers a page offers from the applicant's
// profile, for fields whose manifest hint says `prefill: profile.…`. They
// are only shown as starting values: nothing is saved until the person
// posts the page, so a prefilled answer is never submitted unseen.
func (p *Page) Prefilled(a Applicant) map[string]any {
	out := map[string]any{}
	for _, f := range p.Fields {
		var v any
		switch f.Prefill {
		case "profile.legal_name":
			v = a.LegalName
		case "profile.date_of_birth":
			v = a.DateOfBirth
		case "profile.email":
			v = a.Email
		case "profile.phone":
			v = a.Phone
		case "profile.residential_address":
			v = f.address(a.Residential)
		case "profile.mailing_address":
			v = f.address(a.Mailing)
		}
		switch x := v.(type) {
		case string:
			if x != "" {
				out[f.Name] = x
			}
		case map[string]any:
			if len(x) > 0 {
				out[f.Name] = x
			}
		}
	}
	return out
}

// address maps a profile address onto the parts the field asks for.
func (f *Field) address(a Address) map[string]any {
	parts := map[string]string{"line1": a.Line1, "street": a.Line1, "line2": a.Line2, "city": a.City, "state": a.State, "zip": a.ZIP}
	out := map[string]any{}
	for _, part := range f.Parts {
		if v := parts[part]; v != "" {
			out[part] = v
		}
	}
	return out
}
