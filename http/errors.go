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

// writeJSON writes v as the JSON body with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"http_status_code":500,"text":"cannot encode the response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// WriteError writes a JSON error in farm's shape, for the transports that
// answer before a request reaches the handler (uwsgi's malformed requests).
func WriteError(w http.ResponseWriter, status int, text string) { writeError(w, status, text) }

// writeError writes a JSON error with an explicit status and text.
func writeError(w http.ResponseWriter, status int, text string) {
	writeJSON(w, status, errorBody{Status: status, Text: text})
}

// fail writes err as a JSON error. invalid is the status of EINVALID: 409
// for bodies (the original API's contract), 400 for query arguments.
// Errors that are not the domain's are logged and hidden from the client.
func fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error, invalid int) {
	var status int
	switch farm.ErrorCode(err) {
	case farm.ENOTFOUND:
		status = http.StatusNotFound
	case farm.ECONFLICT:
		status = http.StatusConflict
	case farm.EPRECONDITION:
		status = http.StatusPreconditionFailed
	case farm.EINVALID:
		status = invalid
	default:
		if errors.Is(err, r.Context().Err()) && r.Context().Err() != nil {
			status = 499 // the client went away; nobody reads this
		} else {
			status = http.StatusInternalServerError
			log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	}
	body := errorBody{Status: status, Text: farm.ErrorMessage(err)}
	var fe *farm.Error
	if errors.As(err, &fe) {
		body.Errors = fe.Fields
	}
	writeJSON(w, status, body)
}
