package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/oidc"
)

// runOIDCClientAdd registers a relying party. The secret is printed once;
// only its hash is stored.
func runOIDCClientAdd(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	var n oidc.NewClient
	var redirects, logouts, scopes listFlag
	fs := newFlags(e, "portico oidc client add",
		"--name N --grant authorization_code|client_credentials [--redirect-uri U]... [--post-logout-uri U]... [--scope S]... [--agency A] [--public] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	fs.StringVar(&n.Name, "name", "", "the name people see on the consent page (required)")
	fs.StringVar(&n.Grant, "grant", "", "authorization_code (sign people in) or client_credentials (a system acting as itself) (required)")
	fs.Var(&redirects, "redirect-uri", "where authorization responses go: https, http://localhost or loopback, or a private-use scheme for apps (repeatable; required for authorization_code)")
	fs.Var(&logouts, "post-logout-uri", "where the browser may return after logout (repeatable)")
	fs.Var(&scopes, "scope", "a scope a client_credentials client may request, e.g. records.read (repeatable)")
	fs.StringVar(&n.AgencyID, "agency", "", "the agency that owns the client")
	fs.BoolVar(&n.Public, "public", false, "no secret (an app on a phone or desktop): PKCE with S256 is required")
	asJSON := fs.Bool("json", false, "print the client and its secret as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if n.Name == "" || n.Grant == "" {
		return usagef("--name and --grant are required")
	}
	n.RedirectURIs, n.PostLogoutURIs, n.Scopes = redirects, logouts, scopes
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		reg, err := a.OIDC.AddClient(ctx, n)
		if err != nil {
			return err
		}
		return output(e, *asJSON, reg, func(w io.Writer) {
			fmt.Fprintf(w, "Registered %q.\n\n  client_id:     %s\n", reg.Name, reg.ID)
			if reg.Secret != "" {
				fmt.Fprintf(w, "  client_secret: %s\n\nThe secret is shown only now; Portico keeps only its hash. Store it in the client's secret store.\n", reg.Secret)
			} else {
				fmt.Fprintln(w, "\nA public client has no secret: it must use PKCE with S256.")
			}
			fmt.Fprintf(w, "Issuer (discovery at ISSUER/.well-known/openid-configuration): the --public-url of `portico serve`.\n")
		})
	})
}

func runOIDCClientList(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico oidc client list", "[--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		clients, err := a.OIDC.Clients(ctx)
		if err != nil {
			return err
		}
		return output(e, *asJSON, clients, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CLIENT ID\tNAME\tAGENCY\tGRANTS\tPUBLIC\tREDIRECT URIS")
			for _, c := range clients {
				pub := "no"
				if c.Public {
					pub = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, dash(c.AgencyID), strings.Join(c.GrantTypes, ","), pub,
					dash(strings.Join(c.RedirectURIs, " ")))
			}
			tw.Flush()
		})
	})
}

// runOIDCClientRevokeTokens ends every token a client has been issued
// until now, its own and those it holds for people
// (oidc.Service.RevokeClientTokens), audited as the operator. Tokens it
// gets from the next second on work.
func runOIDCClientRevokeTokens(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico oidc client revoke-tokens", "CLIENT_ID [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	ids, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return usagef("name one CLIENT_ID")
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		notBefore, err := a.OIDC.RevokeClientTokens(ctx, ids[0])
		if err != nil {
			return err
		}
		res := struct {
			ClientID        string `json:"client_id"`
			TokensNotBefore string `json:"tokens_not_before"`
		}{ids[0], notBefore.Format(time.RFC3339)}
		return output(e, *asJSON, res, func(w io.Writer) {
			fmt.Fprintf(w, "Every token %s was issued before %s is refused, by every running replica at once.\n", res.ClientID, res.TokensNotBefore)
			fmt.Fprintln(w, "The client gets new tokens as before (people sign in through it again; their consent stays); if its secret leaked too, disable the client and register a new one.")
		})
	})
}

// runKeysRotate makes a new signing key, published at once and signing
// from oidc.KeyPublishDelay later (at once with --now); the previous
// ones stay published until every token they signed has expired.
func runKeysRotate(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico keys rotate", "[--alg ES256|RS256] [--now] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	alg := fs.String("alg", oidc.AlgES256, "signature algorithm of the new key: ES256 or RS256")
	now := fs.Bool("now", false, "sign with the new key at once (a key leaked): verifiers that cached the key set may refuse new tokens for up to a minute")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *alg != oidc.AlgES256 && *alg != oidc.AlgRS256 {
		return usagef("--alg must be ES256 or RS256")
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		res, err := a.OIDC.RotateKeys(ctx, *alg, *now)
		if err != nil {
			return err
		}
		return output(e, *asJSON, res, func(w io.Writer) {
			if res.Active.Active {
				fmt.Fprintf(w, "New signing key %s (%s) is active; running servers use it within 30 seconds.\n", res.Active.ID, res.Active.Alg)
			} else {
				fmt.Fprintf(w, "New signing key %s (%s) is published now and signs from %s, when plug-ins and relying parties that cache the key set have it; the current key signs until then.\n",
					res.Active.ID, res.Active.Alg, res.Active.SignFrom.Format("2006-01-02 15:04:05Z07:00"))
			}
			for _, k := range res.Retired {
				fmt.Fprintf(w, "Key %s (%s) stays in the JWKS until %s, when every token it signed has expired.\n",
					k.ID, k.Alg, k.RetireAfter.Format("2006-01-02 15:04:05Z07:00"))
			}
			if res.Dropped > 0 {
				fmt.Fprintf(w, "Dropped %d retired key(s).\n", res.Dropped)
			}
		})
	})
}

func runKeysList(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico keys list", "[--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		keys, err := a.OIDC.Keys(ctx)
		if err != nil {
			return err
		}
		return output(e, *asJSON, keys, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "KID\tALG\tCREATED\tSTATE")
			for _, k := range keys {
				var state string
				switch {
				case k.Active && k.RetireAfter != nil:
					state = "signing until its successor does; published until " + k.RetireAfter.Format("2006-01-02 15:04:05Z07:00")
				case k.Active:
					state = "active"
				case k.RetireAfter != nil:
					state = "retiring; published until " + k.RetireAfter.Format("2006-01-02 15:04:05Z07:00")
				default:
					state = "published; signs from " + k.SignFrom.Format("2006-01-02 15:04:05Z07:00")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Alg, k.CreatedAt.Format("2006-01-02 15:04:05Z07:00"), state)
			}
			tw.Flush()
		})
	})
}
