/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * RTSP/1.0 messages for the example server: parsing a request head and its
 * Transport: header, building a response. Nothing here knows about sessions
 * or sockets.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define EX_MAX_HEADER_BYTES (16 * 1024)
#define EX_MAX_HEADERS 64
#define EX_MAX_BODY_BYTES (64 * 1024)

typedef struct
{
  gchar *name;
  gchar *value;
} ExHeader;

typedef struct
{
  gchar *method;
  gchar *uri;
  gchar *version;
  ExHeader headers[EX_MAX_HEADERS];
  guint n_headers;
  const gchar *cseq; /* points into headers, once validated */
  const guint8 *body;
  gsize body_size;
} ExRequest;

typedef struct
{
  guint code;
  GString *headers;
  GString *body;
  const gchar *content_type;
} ExResponse;

typedef struct
{
  gboolean tcp;
  gboolean has_channels;
  guint rtp; /* client port or channel */
  guint rtcp;
} ExTransport;

/* Requests */
gboolean     ex_request_parse_head (const gchar *head, ExRequest *req);
void         ex_request_clear (ExRequest *req);
const gchar *ex_request_header (const ExRequest *req, const gchar *name);
gssize       ex_find_head_end (const guint8 *data, gsize size, gsize *scanned, gsize *body_start);
gboolean     ex_parse_uint (const gchar *s, gsize max_digits, guint64 max, guint64 *out);
gboolean     ex_is_token (const gchar *s);
gboolean     ex_split_request_uri (const gchar *uri, const gchar *local_base, gchar **base, gchar **path);
gboolean     ex_choose_transport (const gchar *header, ExTransport *choice);

/* Responses */
const gchar *ex_reason_phrase (guint code);
void         ex_response_init (ExResponse *resp, guint code);
void         ex_response_add_header (ExResponse *resp, const gchar *name, const gchar *format, ...)
    G_GNUC_PRINTF (3, 4);
GString     *ex_response_finish (ExResponse *resp, const gchar *cseq, const gchar *server_name);
void         ex_response_clear (ExResponse *resp);

G_END_DECLS
