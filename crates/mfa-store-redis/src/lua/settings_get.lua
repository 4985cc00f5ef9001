-- settings (settings_fields). KEYS[2] settings hash. Returns its fields, {} if never stored;
-- the data-loss error if they were written and are gone.
return settings_fields(KEYS[1], KEYS[2])
