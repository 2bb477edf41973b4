package http

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/farmhq/farm"
)

// errorBody is the original farm's error shape, with the fields at fault
// added when there are some.
type errorBody struct {
	Status int               `json:"http_status_code"`
	Text   string            `json:"text"`
	Errors []farm.FieldError `json:"errors,omitempty"`
}

// statusOf is the HTTP status of each error code: the one place that
// decides it.
func statusOf(code string) int {
	switch code {
	case farm.ENOTFOUND:
		return http.StatusNotFound
	case farm.ECONFLICT, farm.EINVALID:
		// A body that breaks a rule is a 409, as the original API's
		// documented contract has it, like an id that exists.
		return http.StatusConflict
	case farm.EINVALIDARG:
		return http.StatusBadRequest
	case farm.EPRECONDITION:
		return http.StatusPreconditionFailed
	case farm.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case farm.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case farm.EUNSUPPORTED:
		return http.StatusUnsupportedMediaType
	case farm.EGONE:
		return http.StatusGone
	case farm.EUNAVAILABLE, farm.EOVERLOADED:
		return http.StatusServiceUnavailable
	case farm.EFULL:
		return http.StatusInsufficientStorage
	case farm.ETIMEOUT:
		return http.StatusRequestTimeout
	}
	return http.StatusInternalServerError
}

// writeJSON writes v as the JSON body with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"http_status_code":500,"text":"cannot encode the response"}`)
	}
	writeBody(w, status, append(b, '\n'))
}

// jsonHeader is the header every JSON answer carries; set by assignment,
// which costs no canonicalisation per request.
var (
	contentTypeJSON = []string{"application/json"}
	nosniff         = []string{"nosniff"}
)

// writeBody writes an encoded JSON body with the status.
func writeBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["X-Content-Type-Options"] = nosniff
	w.WriteHeader(status)
	w.Write(b)
}

// writeError writes a JSON error with an explicit status and text.
func writeError(w http.ResponseWriter, status int, text string) {
	writeJSON(w, status, errorBody{Status: status, Text: text})
}

// fail writes err as a JSON error, its status the one its code means.
// Errors that are not the domain's are logged and hidden from the client.
func fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status := statusOf(farm.ErrorCode(err))
	if status == http.StatusInternalServerError {
		if ctxErr := r.Context().Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			status = 499 // the client went away; nobody reads this
		} else {
			log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	}
	if status == http.StatusServiceUnavailable {
		// The store is down or farm is full of work: a client may try
		// again, shortly.
		w.Header().Set("Retry-After", "2")
	}
	body := errorBody{Status: status, Text: farm.ErrorMessage(err)}
	var fe *farm.Error
	if errors.As(err, &fe) {
		body.Errors = fe.Fields
	}
	writeJSON(w, status, body)
}
