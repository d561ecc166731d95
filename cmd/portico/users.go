package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/pquerna/otp/totp"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/platform"
)

func runUserAdd(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	var n identity.NewStaff
	fs := newFlags(e, "portico user add", "--email E --name N [--agency A --role R] [--platform-admin] [--password-stdin] [--totp] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	fs.StringVar(&n.Email, "email", "", "email address (required)")
	fs.StringVar(&n.LegalName, "name", "", "full name (required for a new account)")
	fs.StringVar(&n.AgencyID, "agency", "", "agency to grant a role in")
	role := fs.String("role", "", "agency_admin, caseworker, finance or auditor (with --agency)")
	fs.BoolVar(&n.PlatformAdmin, "platform-admin", false, "make the account a platform administrator")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (otherwise the person sets it with account recovery)")
	enrolTOTP := fs.Bool("totp", false, "enrol an authenticator app for the account (new or existing), replacing any it has; prints its key and recovery codes once")
	asJSON := fs.Bool("json", false, "print the account as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if n.Email == "" {
		return usagef("--email is required")
	}
	if *role != "" {
		r, err := identity.ParseRole(*role)
		if err != nil {
			return usagef("%s", platform.ErrorMessage(err))
		}
		n.Role = r
	}
	if *pwStdin {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("reading the password from standard input: %w", err)
		}
		// Only the line ending is removed: passwords are used exactly as typed.
		n.Password = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if n.Password == "" {
			return usagef("--password-stdin given but standard input had no password")
		}
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		acct, err := a.Identity.AddStaff(ctx, n)
		if err != nil {
			return err
		}
		var factor *totpEnrolment
		if *enrolTOTP {
			// The server chooses the key (as the account security page
			// does); the operator hands it and the codes to the person.
			key, err := totp.Generate(totp.GenerateOpts{Issuer: "Portico", AccountName: acct.Email, SecretSize: 20})
			if err != nil {
				return fmt.Errorf("generate an authenticator key: %w", err)
			}
			codes, err := a.Identity.SetTOTPSecret(ctx, acct.ID, key.Secret())
			if err != nil {
				return err
			}
			factor = &totpEnrolment{Secret: key.Secret(), URL: key.URL(), RecoveryCodes: codes}
			if acct, err = a.Identity.Account(ctx, acct.ID); err != nil {
				return err
			}
		}
		out := struct {
			*identity.Account
			TOTP *totpEnrolment `json:"totp,omitempty"`
		}{acct, factor}
		return output(e, *asJSON, out, func(w io.Writer) {
			fmt.Fprintf(w, "Staff account %s (%s) has %s.\n", acct.Email, acct.ID, describeRoles(acct))
			if factor != nil {
				fmt.Fprintf(w, "Authenticator app enrolled. Give the person, privately (shown only now):\n  key:  %s\n  link: %s\n  recovery codes: %s\n",
					factor.Secret, factor.URL, strings.Join(factor.RecoveryCodes, " "))
			}
			if !*pwStdin {
				fmt.Fprintln(w, "They set a password with \"Forgot your password?\" on the sign-in page.")
			}
			if factor == nil && !acct.HasSecondFactor() {
				fmt.Fprintln(w, "They add an authentication app at first sign-in (or enrol one now with --totp).")
			}
		})
	})
}

// totpEnrolment is what `user add --totp` prints once.
type totpEnrolment struct {
	Secret        string   `json:"secret"`
	URL           string   `json:"otpauth_url"`
	RecoveryCodes []string `json:"recovery_codes"`
}

func describeRoles(a *identity.Account) string {
	var parts []string
	if a.PlatformAdmin {
		parts = append(parts, "platform_admin")
	}
	for _, m := range a.Memberships {
		parts = append(parts, string(m.Role)+" in "+m.AgencyID)
	}
	if len(parts) == 0 {
		return "no roles yet"
	}
	return strings.Join(parts, ", ")
}

func runUserList(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico user list", "[--kind staff|citizen] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	kind := fs.String("kind", "staff", "staff, citizen or all")
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	var k identity.Kind
	switch *kind {
	case "staff", "citizen":
		k = identity.Kind(*kind)
	case "all":
	default:
		return usagef("--kind must be staff, citizen or all")
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		users, err := a.Identity.Users(ctx, k)
		if err != nil {
			return err
		}
		if users == nil {
			users = []*identity.Account{}
		}
		return output(e, *asJSON, users, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "EMAIL\tKIND\tNAME\tSECOND FACTOR\tROLES")
			for _, u := range users {
				mfa := "no"
				if u.HasSecondFactor() {
					mfa = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Email, u.Kind, u.LegalName, mfa, describeRoles(u))
			}
			tw.Flush()
		})
	})
}
