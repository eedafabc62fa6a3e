-- Attribute types observed at import, for segment filters: an attribute not
-- declared under [attributes] in the config takes its type from here.
-- 'mixed' means values of different types were imported: declare it.
CREATE TABLE attribute_types (
    name TEXT PRIMARY KEY,
    type TEXT NOT NULL CHECK (type IN ('number', 'text', 'boolean', 'date', 'mixed'))
);

-- Databases that already hold contacts: infer from what is stored (dates
-- are not recognised here: declare date attributes under [attributes]).
INSERT INTO attribute_types (name, type)
SELECT j.key,
       CASE WHEN count(DISTINCT CASE j.type WHEN 'integer' THEN 'number' WHEN 'real' THEN 'number'
                                            WHEN 'true' THEN 'boolean' WHEN 'false' THEN 'boolean'
                                            ELSE 'text' END) > 1 THEN 'mixed'
            ELSE max(CASE j.type WHEN 'integer' THEN 'number' WHEN 'real' THEN 'number'
                                 WHEN 'true' THEN 'boolean' WHEN 'false' THEN 'boolean'
                                 ELSE 'text' END) END
FROM contacts c, json_each(c.attributes) j
WHERE j.type IN ('integer', 'real', 'true', 'false', 'text')
GROUP BY j.key;
