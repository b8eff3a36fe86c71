/* Loader for tfjs weight manifests (tfjs-core io: weights_manifest.json +
 * .bin shards). Layout rule from tfjs decodeWeights: the tensors of all groups
 * lie back to back in the concatenation of the shards, in manifest order, each
 * taking count * sizeof(stored dtype) bytes. */
#include "nn/nn.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TENSORS 4096
#define MAX_DIM (1 << 20)
#define MAX_COUNT ((size_t)1 << 28)
#define MAX_NAME 255
#define MAX_SHARDS 64
#define MAX_SHARD_BYTES ((size_t)512 << 20)

struct et_nn_weights {
    size_t n;
    et_nn_tensor *t;
    char **names;
    float **data;
};

void et_nn_weights_free(et_nn_weights *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->names[i]);
        free(w->data[i]);
    }
    free(w->t);
    free(w->names);
    free(w->data);
    free(w);
}

size_t et_nn_weights_count(const et_nn_weights *w) { return w->n; }

const et_nn_tensor *et_nn_weights_at(const et_nn_weights *w, size_t i)
{
    return i < w->n ? &w->t[i] : NULL;
}

/* How the values are stored in the .bin: bytes per element, and the affine
 * dequantisation (scale, min) when quantised. */
typedef struct stored_format {
    int bytes;
    int quantised;
    int int32; /* int32 values (graph models' index constants), made floats */
    double scale, min;
} stored_format;

static et_status parse_format(const char *label, const char *name, json_t *spec, int graph,
                              stored_format *f, char *err)
{
    const char *dtype = json_string_value(json_object_get(spec, "dtype"));
    int is_int32 = graph && dtype && strcmp(dtype, "int32") == 0;
    if (!dtype || (strcmp(dtype, "float32") != 0 && !is_int32))
        return et_fail(err, ET_E_MODEL, "%s: tensor %s: dtype %s is not supported (%s)", label,
                       name, dtype ? dtype : "(missing)",
                       graph ? "float32 or int32 only" : "float32 only");
    json_t *q = json_object_get(spec, "quantization");
    *f = (stored_format){.bytes = 4, .int32 = is_int32};
    if (!q)
        return ET_OK;
    if (is_int32)
        return et_fail(err, ET_E_MODEL, "%s: tensor %s: quantized int32 is not supported", label,
                       name);
    const char *qtype = json_string_value(json_object_get(q, "dtype"));
    json_t *scale = json_object_get(q, "scale"), *min = json_object_get(q, "min");
    if (!qtype || (strcmp(qtype, "uint8") != 0 && strcmp(qtype, "uint16") != 0) ||
        !json_is_number(scale) || !json_is_number(min))
        return et_fail(err, ET_E_MODEL,
                       "%s: tensor %s: quantization must be uint8 or uint16 with scale and min",
                       label, name);
    f->bytes = qtype[4] == '8' ? 1 : 2;
    f->quantised = 1;
    f->scale = json_number_value(scale);
    f->min = json_number_value(min);
    return ET_OK;
}

static et_status parse_shape(const char *label, const char *name, json_t *shape,
                             et_nn_tensor *t, char *err)
{
    size_t nd = json_array_size(shape);
    if (!json_is_array(shape) || nd > ET_NN_MAX_DIMS)
        return et_fail(err, ET_E_MODEL, "%s: tensor %s: shape must be an array of at most %d sizes",
                       label, name, ET_NN_MAX_DIMS);
    t->ndim = (int)nd;
    t->count = 1;
    for (size_t d = 0; d < nd; d++) {
        json_t *v = json_array_get(shape, d);
        json_int_t s = json_is_integer(v) ? json_integer_value(v) : -1;
        if (s < 1 || s > MAX_DIM)
            return et_fail(err, ET_E_MODEL, "%s: tensor %s: dimension %zu is not a size in 1..%d",
                           label, name, d, MAX_DIM);
        t->shape[d] = (int)s;
        t->count *= (size_t)s;
        if (t->count > MAX_COUNT)
            return et_fail(err, ET_E_MODEL, "%s: tensor %s: more than %zu values", label, name,
                           MAX_COUNT);
    }
    return ET_OK;
}

static float *dequantise(const uint8_t *src, size_t count, const stored_format *f)
{
    float *out = malloc(count * sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        if (f->int32) {
            int32_t v;
            memcpy(&v, src + 4 * i, 4);
            out[i] = (float)v; /* exact for the small indices graphs hold */
        } else if (f->bytes == 4) {
            memcpy(&out[i], src + 4 * i, 4); /* tfjs files are little-endian, as x86 */
        } else {
            unsigned q = f->bytes == 1 ? src[i] : (unsigned)(src[2 * i] | src[2 * i + 1] << 8);
            out[i] = (float)((double)q * f->scale + f->min);
        }
    }
    return out;
}

/* Appends one tensor read from bin at *offset. */
static et_status add_tensor(et_nn_weights *w, const char *label, json_t *spec, int graph,
                            const uint8_t *bin, size_t bin_len, size_t *offset, char *err)
{
    const char *name = json_string_value(json_object_get(spec, "name"));
    if (!name || !*name || strlen(name) > MAX_NAME)
        return et_fail(err, ET_E_MODEL, "%s: tensor %zu has no valid name", label, w->n);
    et_nn_tensor t = {0};
    stored_format f = {0};
    et_status s = parse_shape(label, name, json_object_get(spec, "shape"), &t, err);
    if (s == ET_OK)
        s = parse_format(label, name, spec, graph, &f, err);
    if (s != ET_OK)
        return s;
    size_t bytes = t.count * (size_t)f.bytes;
    if (bytes > bin_len - *offset)
        return et_fail(err, ET_E_MODEL,
                       "%s: tensor %s needs %zu bytes at offset %zu but the weight data has %zu",
                       label, name, bytes, *offset, bin_len);
    char *dup = strdup(name);
    float *data = dequantise(bin + *offset, t.count, &f);
    if (!dup || !data) {
        free(dup);
        free(data);
        return et_fail(err, ET_E_NOMEM, "%s: out of memory for tensor %s", label, name);
    }
    w->names[w->n] = dup;
    w->data[w->n] = data;
    t.name = dup;
    t.data = data;
    w->t[w->n++] = t;
    *offset += bytes;
    return ET_OK;
}

static et_status parse_groups(et_nn_weights *w, const char *label, json_t *root, int graph,
                              const uint8_t *bin, size_t bin_len, char *err)
{
    size_t offset = 0, gi, wi;
    json_t *group, *spec;
    json_array_foreach(root, gi, group) {
        json_t *specs = json_object_get(group, "weights");
        if (!json_is_array(specs))
            return et_fail(err, ET_E_MODEL, "%s: group %zu has no \"weights\" array", label, gi);
        json_array_foreach(specs, wi, spec) {
            if (w->n == MAX_TENSORS)
                return et_fail(err, ET_E_MODEL, "%s: more than %d tensors", label, MAX_TENSORS);
            et_status s = add_tensor(w, label, spec, graph, bin, bin_len, &offset, err);
            if (s != ET_OK)
                return s;
        }
    }
    if (offset != bin_len)
        return et_fail(err, ET_E_MODEL,
                       "%s: the tensors take %zu bytes but the weight data has %zu", label,
                       offset, bin_len);
    return ET_OK;
}

/* graph: the manifest of a graph model, whose int32 tensors are taken too. */
static et_status parse_manifest(const char *label, const char *manifest, size_t manifest_len,
                                int graph, const uint8_t *bin, size_t bin_len,
                                et_nn_weights **out, char *err)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(manifest, manifest_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return et_fail(err, ET_E_MODEL, "%s: manifest is not valid JSON (line %d: %s)", label,
                       jerr.line, jerr.text);
    if (!json_is_array(root)) {
        json_decref(root);
        return et_fail(err, ET_E_MODEL, "%s: manifest must be a JSON array of groups", label);
    }
    et_nn_weights *w = calloc(1, sizeof *w);
    if (w) {
        w->t = calloc(MAX_TENSORS, sizeof *w->t);
        w->names = calloc(MAX_TENSORS, sizeof *w->names);
        w->data = calloc(MAX_TENSORS, sizeof *w->data);
    }
    et_status s;
    if (!w || !w->t || !w->names || !w->data)
        s = et_fail(err, ET_E_NOMEM, "%s: out of memory", label);
    else
        s = parse_groups(w, label, root, graph, bin, bin_len, err);
    json_decref(root);
    if (s != ET_OK) {
        et_nn_weights_free(w);
        return s;
    }
    *out = w;
    return ET_OK;
}

et_status et_nn_weights_parse(const char *label, const char *manifest, size_t manifest_len,
                              const uint8_t *bin, size_t bin_len, et_nn_weights **out,
                              char *err)
{
    return parse_manifest(label, manifest, manifest_len, 0, bin, bin_len, out, err);
}

/* Reads and concatenates every shard the manifest names, in order. */
static et_status read_shards(const char *manifest_path, json_t *root, uint8_t **bin,
                             size_t *bin_len, char *err)
{
    char dir[4096];
    const char *slash = strrchr(manifest_path, '/');
    int dlen = slash ? (int)(slash - manifest_path) : 1;
    snprintf(dir, sizeof dir, "%.*s", dlen, slash ? manifest_path : ".");
    *bin = NULL;
    *bin_len = 0;
    size_t gi, pi, nshards = 0;
    json_t *group, *p;
    json_array_foreach(root, gi, group) {
        json_t *paths = json_object_get(group, "paths");
        if (!json_is_array(paths))
            return et_fail(err, ET_E_MODEL, "%s: group %zu has no \"paths\" array", manifest_path,
                           gi);
        json_array_foreach(paths, pi, p) {
            const char *rel = json_string_value(p);
            if (!rel || !*rel || strstr(rel, "..") || rel[0] == '/' || ++nshards > MAX_SHARDS)
                return et_fail(err, ET_E_MODEL, "%s: invalid shard path in group %zu",
                               manifest_path, gi);
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, rel);
            uint8_t *part;
            size_t len;
            char ferr[ET_ERR_MAX];
            if (et_read_file(path, MAX_SHARD_BYTES, &part, &len, ferr) != ET_OK)
                return et_fail(err, ET_E_MODEL, "model file %s", ferr);
            uint8_t *grown = realloc(*bin, *bin_len + len + 1);
            if (!grown) {
                free(part);
                return et_fail(err, ET_E_NOMEM, "%s: out of memory", path);
            }
            memcpy(grown + *bin_len, part, len);
            free(part);
            *bin = grown;
            *bin_len += len;
        }
    }
    return ET_OK;
}

/* The manifest of a file's JSON: the file itself (a weights manifest), or
 * its "weightsManifest" (a graph model). Borrowed from root. */
static json_t *manifest_of(json_t *root, int graph)
{
    if (!graph)
        return json_is_array(root) ? root : NULL;
    if (!json_is_object(root))
        return NULL;
    json_t *m = json_object_get(root, "weightsManifest");
    return json_is_array(m) ? m : NULL;
}

static et_status load_file(const char *path, int graph, et_nn_weights **out, char *err)
{
    *out = NULL;
    uint8_t *text;
    size_t mlen;
    char ferr[ET_ERR_MAX];
    if (et_read_file(path, (size_t)16 << 20, &text, &mlen, ferr) != ET_OK)
        return et_fail(err, ET_E_MODEL, "model file %s", ferr);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)text, mlen, 0, &jerr);
    json_t *manifest = root ? manifest_of(root, graph) : NULL;
    char *dumped = NULL;
    uint8_t *bin = NULL;
    size_t bin_len = 0;
    et_status s;
    if (!root)
        s = et_fail(err, ET_E_MODEL, "%s: manifest is not valid JSON (line %d: %s)", path,
                    jerr.line, jerr.text);
    else if (!manifest)
        s = et_fail(err, ET_E_MODEL, "%s: %s", path,
                    graph ? "a graph model needs a \"weightsManifest\" array of groups"
                          : "manifest must be a JSON array of groups");
    else
        s = read_shards(path, manifest, &bin, &bin_len, err);
    if (s == ET_OK && graph && !(dumped = json_dumps(manifest, JSON_COMPACT)))
        s = et_fail(err, ET_E_NOMEM, "%s: out of memory", path);
    if (s == ET_OK) {
        const char *m = graph ? dumped : (const char *)text;
        s = parse_manifest(path, m, graph ? strlen(dumped) : mlen, graph,
                           bin ? bin : (const uint8_t *)"", bin_len, out, err);
    }
    free(dumped);
    json_decref(root);
    free(text);
    free(bin);
    return s;
}

et_status et_nn_weights_load(const char *manifest_path, et_nn_weights **out, char *err)
{
    return load_file(manifest_path, 0, out, err);
}

et_status et_nn_weights_load_graph(const char *model_path, et_nn_weights **out, char *err)
{
    return load_file(model_path, 1, out, err);
}

et_status et_nn_weights_expect(const et_nn_weights *w, const char *name, int ndim,
                               const int *shape, const et_nn_tensor **t, char *err)
{
    *t = NULL;
    for (size_t i = 0; i < w->n; i++) {
        if (strcmp(w->t[i].name, name) != 0)
            continue;
        int same = w->t[i].ndim == ndim;
        for (int d = 0; same && d < ndim; d++)
            same = w->t[i].shape[d] == shape[d];
        if (!same) {
            char want[64] = "", got[64] = "";
            for (int d = 0; d < ndim; d++)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", d ? "," : "",
                         shape[d]);
            for (int d = 0; d < w->t[i].ndim; d++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%d", d ? "," : "",
                         w->t[i].shape[d]);
            return et_fail(err, ET_E_MODEL, "tensor %s has shape [%s], expected [%s]", name, got,
                           want);
        }
        *t = &w->t[i];
        return ET_OK;
    }
    return et_fail(err, ET_E_MODEL, "tensor %s is missing", name);
}
