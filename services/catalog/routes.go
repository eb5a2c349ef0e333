package catalog

import "net/http"

func (s *server) routes(mux *http.ServeMux) {
	mux.Handle("GET /v1/products", s.handleList())
	mux.Handle("GET /v1/products/{id}", s.handleGet())
	mux.Handle("GET /v1/categories", s.handleCategories())
	mux.Handle("POST /v1/products", s.handleCreate())
	mux.Handle("PUT /v1/products/{id}", s.handleUpdate())
}
