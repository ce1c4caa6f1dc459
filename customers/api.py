"""Partner API of customers: parse, validate with the form, call a service or selector."""

from django.forms.models import model_to_dict

from audit import selectors as audit_selectors
from audit.serializers import AUDIT_EVENT_SCHEMA, event_json
from core.api.endpoint import ApiView, operation
from core.api.pagination import paginate
from core.forms import AsOfQueryForm
from customers import selectors, services
from customers.forms import (
    BeneficialOwnerQueryForm,
    CustomerFilterForm,
    CustomerForm,
    CustomerUpdateForm,
    RelationshipForm,
)
from customers.ownership import beneficial_owners
from customers.serializers import (
    CUSTOMER_SCHEMA,
    OWNERS_SCHEMA,
    RELATIONSHIP_SCHEMA,
    customer_json,
    owner_json,
    relationship_json,
)

TAGS = ("customers",)


class CustomerList(ApiView):
    @operation(
        scope="customers:read",
        summary="List or search customers",
        query_form=CustomerFilterForm,
        response=CUSTOMER_SCHEMA,
        paginated=True,
        tags=TAGS,
    )
    def get(self, request):
        filters = self.query(request, CustomerFilterForm)
        queryset = selectors.search_customers(**filters)
        ordering = selectors.SEARCH_ORDERING if filters["q"] else selectors.LIST_ORDERING
        rows, cursor = paginate(request, queryset, ordering=ordering)
        return {"data": [customer_json(c) for c in rows], "next_cursor": cursor}

    @operation(
        scope="customers:write",
        summary="Create a customer",
        request_form=CustomerForm,
        response=CUSTOMER_SCHEMA,
        status=201,
        idempotent=True,
        tags=TAGS,
    )
    def post(self, request):
        form = self.validate(CustomerForm(data=request.json))
        return customer_json(services.create_customer(form=form, by=request.partner_key))


class CustomerDetail(ApiView):
    @operation(
        scope="customers:read",
        summary="Read a customer (as it was at `as_of`, if given)",
        query_form=AsOfQueryForm,
        response=CUSTOMER_SCHEMA,
        tags=TAGS,
    )
    def get(self, request, ref):
        as_of = self.query(request, AsOfQueryForm)["as_of"]
        if as_of is not None:
            return customer_json(selectors.get_customer_as_of(ref, as_of))
        return customer_json(selectors.get_customer(ref))

    @operation(
        scope="customers:write",
        summary="Update a customer (fields sent only; status and kyc_status by their rules)",
        request_form=CustomerUpdateForm,
        partial=True,
        response=CUSTOMER_SCHEMA,
        errors=(409,),
        tags=TAGS,
    )
    def patch(self, request, ref):
        customer = selectors.get_customer(ref)
        current = model_to_dict(customer, fields=CustomerForm.Meta.fields)
        form = self.validate(
            CustomerUpdateForm(data={**current, **request.json}, instance=customer)
        )
        return customer_json(services.update_customer(form=form, by=request.partner_key))

    @operation(
        scope="customers:write",
        summary="Soft-delete a customer",
        status=204,
        errors=(409,),
        tags=TAGS,
    )
    def delete(self, request, ref):
        services.soft_delete_customer(customer=selectors.get_customer(ref), by=request.partner_key)


class RelationshipList(ApiView):
    @operation(
        scope="customers:read",
        summary="Roles others hold towards this customer",
        response=RELATIONSHIP_SCHEMA,
        paginated=True,
        tags=TAGS,
    )
    def get(self, request, ref):
        customer = selectors.get_customer(ref)
        rows, cursor = paginate(request, selectors.relationships_of(customer), ordering=("id",))
        return {"data": [relationship_json(r) for r in rows], "next_cursor": cursor}

    @operation(
        scope="customers:write",
        summary="Add a relationship: `related_customer` holds `type` towards this customer",
        request_form=RelationshipForm,
        response=RELATIONSHIP_SCHEMA,
        status=201,
        idempotent=True,
        tags=TAGS,
    )
    def post(self, request, ref):
        customer = selectors.get_customer(ref)
        form = self.validate(RelationshipForm(data=request.json, customer=customer))
        relationship = services.add_relationship(
            customer=customer, relationship=form.save(commit=False), by=request.partner_key
        )
        return relationship_json(relationship)


class RelationshipDetail(ApiView):
    @operation(
        scope="customers:write",
        summary="End (soft-delete) a relationship",
        status=204,
        errors=(409,),
        tags=TAGS,
    )
    def delete(self, request, ref, relationship_id):
        customer = selectors.get_customer(ref)
        relationship = selectors.get_relationship(customer, relationship_id)
        services.end_relationship(relationship=relationship, by=request.partner_key)


class BeneficialOwners(ApiView):
    @operation(
        scope="customers:read",
        summary="Ultimate beneficial owners through any depth of ownership",
        query_form=BeneficialOwnerQueryForm,
        response=OWNERS_SCHEMA,
        errors=(422,),
        tags=TAGS,
    )
    def get(self, request, ref):
        threshold = self.query(request, BeneficialOwnerQueryForm)["threshold"]
        owners = beneficial_owners(company=selectors.get_customer(ref), threshold=threshold)
        return {"data": [owner_json(owner) for owner in owners]}


class CustomerHistory(ApiView):
    @operation(
        scope="customers:read",
        summary="This customer's audit trail (its relationships' changes included), newest first",
        response=AUDIT_EVENT_SCHEMA,
        paginated=True,
        tags=TAGS,
    )
    def get(self, request, ref):
        history = selectors.history_of(selectors.get_customer(ref))
        rows, cursor = paginate(request, history, ordering=audit_selectors.ORDERING)
        return {"data": [event_json(e) for e in rows], "next_cursor": cursor}
