package app

import (
	"context"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/consent"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/report"
	"github.com/portico-gov/portico/internal/satisfaction"
)

// EventTypes lists the types of the event log that plug-ins may ask for
// in their manifests, from the blocks that emit them.
func EventTypes() []string {
	return append(application.EventTypes(),
		casework.EventOpened, casework.EventTransitioned, casework.EventClosed, casework.EventAssigned,
		casework.EventInfoRequested, casework.EventInfoReceived, casework.EventMessaged, casework.EventOverdue,
		casework.EventStaffNotified, casework.EventPaymentRequired, casework.EventPaymentRecorded,
		casework.EventDocumentIssued, casework.EventReminderSet, casework.EventPluginCalled,
		payment.EventCreated, payment.EventSucceeded, payment.EventFailed, payment.EventRefunded,
		payment.EventStarted, payment.EventCaptured,
		consent.EventGiven, consent.EventWithdrawn,
		report.EventSubmitted, report.EventStatusChanged, report.EventReopened,
		satisfaction.EventAnswered,
	)
}

// PluginRefs adapts the plug-in registry to what service manifest
// validation asks of it (manifest.PluginRefs).
func (a *App) PluginRefs() manifest.PluginRefs { return pluginRefs{a} }

type pluginRefs struct{ a *App }

func (r pluginRefs) CheckPluginUse(ctx context.Context, agency, service, pluginID, operation string, data []string) (string, error) {
	return r.a.Plugins.CheckUse(ctx, agency, service, pluginID, operation, data)
}
