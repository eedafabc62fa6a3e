-- The planner reads a campaign's open enrollments page by page in id order
-- (`progress_page`): with this index each page is a range read, instead of
-- every open enrollment of the campaign sorted again for every page.
CREATE INDEX enrollments_open_by_id ON enrollments (campaign, id) WHERE exited_at IS NULL;
