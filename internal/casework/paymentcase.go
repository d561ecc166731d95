package casework

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/portico-gov/portico/internal/platform"
)

// CaseOfPayment returns the id and reference of the case whose fee
// request casePaymentID (a case_payments id, as a checkout item names its
// source) is, or not found. It does not check who is asking and shows
// nothing of the case: the finance console links to the case page, which
// decides and audits who sees it.
func (s *Service) CaseOfPayment(ctx context.Context, casePaymentID string) (string, string, error) {
	id, err := strconv.ParseInt(casePaymentID, 10, 64)
	if err != nil {
		return "", "", platform.Errorf(platform.CodeNotFound, "no such case payment")
	}
	var caseID, ref string
	err = s.db.Read().QueryRowContext(ctx, `SELECT c.id, c.reference FROM case_payments p JOIN cases c ON c.id = p.case_id WHERE p.id = $1`, id).Scan(&caseID, &ref)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", platform.Errorf(platform.CodeNotFound, "no such case payment")
	}
	if err != nil {
		return "", "", fmt.Errorf("casework: case of payment: %w", err)
	}
	return caseID, ref, nil
}

// ServiceOf returns the service of case id, or not found. Like
// CaseOfPayment it checks no actor and reads nothing about the person:
// the outcome block counts a paid fee under its case's service.
func (s *Service) ServiceOf(ctx context.Context, id string) (string, error) {
	var svc string
	err := s.db.Read().QueryRowContext(ctx, `SELECT service_id FROM cases WHERE id = $1`, id).Scan(&svc)
	if errors.Is(err, sql.ErrNoRows) {
		return "", platform.Errorf(platform.CodeNotFound, "no such case")
	}
	if err != nil {
		return "", fmt.Errorf("casework: service of case: %w", err)
	}
	return svc, nil
}
