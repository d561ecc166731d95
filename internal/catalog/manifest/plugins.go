package manifest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
)

// pluginUse is one place a manifest names a plug-in operation.
type pluginUse struct {
	ptr, where string
	plugin, op string
	data       []string
	state      string // for call_plugin: the state whose on_enter calls it
}

func pluginUses(m *Manifest) []pluginUse {
	var out []pluginUse
	for i, p := range m.Pages {
		ptr := "/pages/" + strconv.Itoa(i)
		for _, c := range []struct {
			key  string
			call *PluginCall
		}{{"prefill_from", p.PrefillFrom}, {"check", p.Check}} {
			if c.call != nil {
				pl, op := c.call.Split()
				out = append(out, pluginUse{ptr: ptr + "/" + c.key, where: pathOf(ptr + "/" + c.key), plugin: pl, op: op, data: c.call.Data})
			}
		}
	}
	if m.Fee != nil && m.Fee.Call != nil {
		pl, op := m.Fee.Call.Split()
		out = append(out, pluginUse{ptr: "/fee/call", where: "fee.call", plugin: pl, op: op, data: m.Fee.Call.Data})
	}
	for _, name := range sortedKeys(m.Workflow.States) {
		for j, a := range m.Workflow.States[name].OnEnter {
			if a.CallPlugin == nil {
				continue
			}
			ptr := "/workflow/states/" + escapePtr(name) + "/on_enter/" + strconv.Itoa(j) + "/call_plugin"
			out = append(out, pluginUse{ptr: ptr, where: fmt.Sprintf("workflow.states.%s.on_enter[%d].call_plugin", name, j),
				plugin: a.CallPlugin.Plugin, op: a.CallPlugin.Operation, data: a.CallPlugin.Data, state: name})
		}
	}
	return out
}

// checkPluginUses checks every plug-in operation the manifest names: that
// a prefill names fields of its page, and, against the plug-in registry,
// that the operation exists, is enabled for the service's agency, and
// that the data the call carries is declared here and approved there.
// Without a registry a use is a problem: nothing could call it.
func (v *validator) checkPluginUses(ctx context.Context, m *Manifest, refs PluginRefs) error {
	for i, p := range m.Pages {
		if p.PrefillFrom == nil {
			continue
		}
		props := propsOf(p.Schema)
		for _, f := range sortedKeys(p.PrefillFrom.Fields) {
			if !props[f] {
				v.add("/pages/"+strconv.Itoa(i)+"/prefill_from/fields/"+escapePtr(f), "pages[%d].prefill_from.fields.%s: the page's schema has no property %q", i, f, f)
			}
		}
	}
	for _, u := range pluginUses(m) {
		if refs == nil {
			if u.state != "" {
				v.add(u.ptr, "%s: state %q calls plug-in %q (%s), but call_plugin needs the plug-in gateway, which is not available yet; `portico service validate` with the database (--data or --db) checks the plug-in operation against the registry", u.where, u.state, u.plugin, u.op)
			} else {
				v.add(u.ptr, "%s: plug-in operation %s/%s needs the plug-in gateway to be called, which is not available yet; `portico service validate` with the database (--data or --db) checks it against the registry", u.where, u.plugin, u.op)
			}
			continue
		}
		if u.op == "" {
			v.add(u.ptr, "%s: name the operation as plugin/operation, such as vehicle-registry/find-vehicle", u.where)
			continue
		}
		data := slices.Clone(u.data)
		msg, err := refs.CheckPluginUse(ctx, m.Agency, m.ID, u.plugin, u.op, data)
		if err != nil {
			return err
		}
		if msg != "" {
			v.add(u.ptr, "%s: %s/%s: %s", u.where, u.plugin, u.op, msg)
		}
	}
	return nil
}

// UsesPlugins reports whether m names any plug-in operation.
func UsesPlugins(m *Manifest) bool { return len(pluginUses(m)) > 0 }

// PluginUses returns, for each plug-in that m's pages, fee and workflow
// use, the union of the personal data those uses carry (sorted, in the
// plug-in data vocabulary). A plug-in used without data maps to an empty
// list. The consent screen asks a person to share exactly this.
func PluginUses(m *Manifest) map[string][]string {
	out := map[string][]string{}
	for _, u := range pluginUses(m) {
		pl := u.plugin
		if pl == "" {
			continue
		}
		d := out[pl]
		if d == nil {
			d = []string{}
		}
		for _, x := range u.data {
			if !slices.Contains(d, x) {
				d = append(d, x)
			}
		}
		slices.Sort(d)
		out[pl] = d
	}
	return out
}
